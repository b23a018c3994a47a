//! `GET /v1/leads/{id}/history`.

use axum::{
    extract::{Path, State},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

use super::{lead_id, READERS};
use crate::{
    db::history::HistoryEntry,
    http::{
        error::{ApiResult, Problem},
        extract::Principal,
        AppState,
    },
};

/// The lead's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub items: Vec<HistoryEntry>,
}

/// Every transition and event of a lead, oldest first.
#[utoipa::path(get, path = "/v1/leads/{id}/history", tag = "leads",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = History), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_lead_history(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    principal.require(READERS)?;
    let items = state
        .service
        .history(&principal.caller(), lead_id(&id)?)
        .await?;
    Ok(Json(History { items }))
}
