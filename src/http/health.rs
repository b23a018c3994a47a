//! Liveness and readiness probes (no auth).

use std::time::Duration;

use axum::{extract::State, Json};
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{error::ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_healthz))
        .routes(routes!(get_readyz))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn get_healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The service can reach its database.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, body = super::error::Problem, content_type = "application/problem+json")))]
pub async fn get_readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let ping = crate::db::ping(&state.db);
    match tokio::time::timeout(Duration::from_secs(2), ping).await {
        Ok(Ok(_)) => Ok(Json(json!({ "status": "ready" }))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::Unavailable("the database is not reachable"))
        }
        Err(_) => Err(ApiError::Unavailable(
            "the database did not answer within 2 s",
        )),
    }
}
