//! `POST /v1/leads/{id}/accept`, `/reject`, `/recycle`: the three decisions.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::Value;

use super::{
    bodies::{parse_decision, AcceptInput, RecycleInput, RejectInput},
    headers::{if_match, with_etag},
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

async fn decide_lead(
    state: AppState,
    principal: Principal,
    id: String,
    headers: HeaderMap,
    kind: &str,
    body: Value,
) -> ApiResult<Response> {
    principal.require(DECIDERS)?;
    let id = lead_id(&id)?;
    let decision = parse_decision(kind, &body).map_err(ApiError::Validation)?;
    // `If-Match: *` expects no particular version.
    let expected = if_match(&headers).flatten();
    let lead = state
        .service
        .decide(&principal.caller(), id, &decision, expected.as_deref())
        .await?;
    Ok(with_etag(StatusCode::OK, lead))
}

/// Accept a routed lead. The deciding rep comes from the key (or `on_behalf_of` for
/// revops/admin keys) and becomes the owner.
#[utoipa::path(post, path = "/v1/leads/{id}/accept", tag = "decisions", request_body = AcceptInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "expected version (ETag)")),
    responses(
        (status = 200, body = Lead),
        (status = 409, description = "invalid transition; the body lists the allowed ones", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn accept_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    decide_lead(state, principal, id, headers, "accept", body).await
}

/// Reject a routed lead with an active rejection code.
#[utoipa::path(post, path = "/v1/leads/{id}/reject", tag = "decisions", request_body = RejectInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Lead),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields or unknown_rejection_code", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn reject_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    decide_lead(state, principal, id, headers, "reject", body).await
}

/// Recycle a routed lead (or reverse an accept, with a note) back to marketing nurture.
#[utoipa::path(post, path = "/v1/leads/{id}/recycle", tag = "decisions", request_body = RecycleInput,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Lead),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn recycle_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    decide_lead(state, principal, id, headers, "recycle", body).await
}
