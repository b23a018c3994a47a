//! `POST /v1/leads/{id}/touches`: log a call, email, … on a lead.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{
    bodies::{parse_touch, TouchInput},
    headers::with_etag,
    lead_id, DECIDERS,
};
use crate::{
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{JsonBody, Principal},
        AppState,
    },
    views::lead::Lead,
};

/// Log a touch (call, email, …) on a routed or accepted lead. The first touch of a cycle meets
/// (or misses) its first-touch SLA.
#[utoipa::path(post, path = "/v1/leads/{id}/touches", tag = "decisions", request_body = TouchInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, body = Lead),
        (status = 409, description = "the lead is rejected or recycled", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead_touch(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(DECIDERS)?;
    let id = lead_id(&id)?;
    let (channel, at) = parse_touch(&body, state.clock.now()).map_err(ApiError::Validation)?;
    let lead = state
        .service
        .touch(&principal.caller(), id, &channel, at)
        .await?;
    Ok(with_etag(StatusCode::CREATED, lead))
}
