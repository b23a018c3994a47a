//! `POST /v1/leads/{id}/touches`: log a call, email, … on a lead.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{bodies::TouchInput, headers::with_etag, lead_id, DECIDERS};
use crate::{
    db::leads::Lead,
    domain::{
        lead_input::MAX_ROUTED_AT_SKEW,
        validation::{FieldError, Fields, SlugKind},
    },
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{JsonBody, Principal},
        AppState,
    },
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

/// The channel and the time of a touch (default `now`; not in the future).
fn parse_touch(
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), Vec<FieldError>> {
    let mut f = Fields::root(body)?;
    let channel = f.req_slug("channel", SlugKind::Key);
    let at = match f.raw("at") {
        None => Some(now),
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.with_timezone(&Utc) > now + MAX_ROUTED_AT_SKEW => {
                f.error("at", "must not be in the future");
                None
            }
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.error("at", "must be an RFC 3339 time like 2026-01-31T09:00:00Z");
                None
            }
        },
        Some(_) => {
            f.error("at", "must be an RFC 3339 time string");
            None
        }
    };
    let errors = f.finish();
    match (channel, at, errors.is_empty()) {
        (Some(channel), Some(at), true) => Ok((channel, at)),
        _ => Err(errors),
    }
}
