//! `POST /v1/leads/{id}/assign`: reassign a routed lead to a rep or a queue.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use serde_json::Value;

use super::{bodies::AssignInput, headers::with_etag, lead_id};
use crate::{
    db::leads::Lead,
    domain::{
        validation::{FieldError, Fields, SlugKind},
        Role,
    },
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{JsonBody, Principal},
        AppState,
    },
    service::Assignment,
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
    let to = parse_assignment(&body).map_err(ApiError::Validation)?;
    let lead = state.service.assign(&principal.caller(), id, &to).await?;
    Ok(with_etag(StatusCode::OK, lead))
}

/// Exactly one of `owner` and `queue`.
fn parse_assignment(body: &Value) -> Result<Assignment, Vec<FieldError>> {
    let mut f = Fields::root(body)?;
    let owner = f.opt_slug("owner", SlugKind::Id);
    let queue = f.opt_slug("queue", SlugKind::Id);
    if f.errors.is_empty() && owner.is_some() == queue.is_some() {
        f.error("owner", "give exactly one of owner and queue");
    }
    let errors = f.finish();
    match (owner, queue) {
        (Some(owner), None) if errors.is_empty() => Ok(Assignment::Owner(owner)),
        (None, Some(queue)) if errors.is_empty() => Ok(Assignment::Queue(queue)),
        _ => Err(errors),
    }
}
