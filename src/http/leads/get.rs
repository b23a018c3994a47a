//! `GET /v1/leads/{id}`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

use super::{headers::with_etag, lead_id, READERS};
use crate::{
    http::{
        error::{ApiResult, Problem},
        extract::Principal,
        AppState,
    },
    views::lead::Lead,
};

/// Get one lead; the `ETag` is its version.
#[utoipa::path(get, path = "/v1/leads/{id}", tag = "leads",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Lead), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let lead = state
        .service
        .get(&principal.caller(), lead_id(&id)?)
        .await?;
    Ok(with_etag(StatusCode::OK, lead))
}
