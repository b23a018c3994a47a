//! `POST /v1/leads/{id}/assign`: reassign a routed lead to a rep or a queue.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{
    bodies::{parse_assign, AssignInput},
    headers::with_etag,
    lead_id,
};
use crate::{
    domain::Role,
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{JsonBody, Principal},
        AppState,
    },
    views::lead::Lead,
};

/// Reassign a routed lead (revops, admin). The cycle's SLA due time does not move.
#[utoipa::path(post, path = "/v1/leads/{id}/assign", tag = "routing", request_body = AssignInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Lead),
        (status = 409, description = "the lead is not routed", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn assign_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(&[Role::Revops, Role::Admin])?;
    let id = lead_id(&id)?;
    let to = parse_assign(&body).map_err(ApiError::Validation)?;
    let lead = state.service.assign(&principal.caller(), id, &to).await?;
    Ok(with_etag(StatusCode::OK, lead))
}
