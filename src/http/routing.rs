//! `/v1/queues` and `/v1/reps`: who leads can be routed to.

use axum::{
    extract::{Path, State},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::routing::{self, Queue, Rep},
    domain::Role,
    service::settings::routing::{self as settings, QueueInput, RepInput},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_queues))
        .routes(routes!(get_queue, put_queue))
        .routes(routes!(list_reps))
        .routes(routes!(get_rep, put_rep))
        .routes(routes!(claim_lead))
}

/// Take the most urgent unassigned lead of a queue (earliest due). SDR keys only, for a rep of
/// the queue. Concurrent claimers never receive the same lead; 204 when none is waiting.
#[utoipa::path(post, path = "/v1/queues/{id}/claim", tag = "routing", params(("id" = String, Path)),
    responses(
        (status = 200, body = crate::views::lead::Lead),
        (status = 204, description = "no unassigned lead is waiting"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn claim_lead(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    principal.require(&[Role::Sdr])?;
    check_id(&id).map_err(|_| ApiError::NotFound("no queue with this id"))?;
    match state.service.claim(&principal.caller(), &id).await? {
        Some(lead) => Ok(Json(lead).into_response()),
        None => Ok(axum::http::StatusCode::NO_CONTENT.into_response()),
    }
}

const WRITERS: &[Role] = &[Role::Revops, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    pub items: Vec<Queue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RepList {
    pub items: Vec<Rep>,
}

/// A queue or rep id in the path.
fn check_id(id: &str) -> ApiResult<()> {
    Ok(settings::check_id(id)?)
}

/// Every queue with its members.
#[utoipa::path(get, path = "/v1/queues", tag = "routing",
    responses((status = 200, body = QueueList)), security(("bearer" = [])))]
pub async fn list_queues(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<QueueList>> {
    Ok(Json(QueueList {
        items: state.service.queues().await?,
    }))
}

/// One queue.
#[utoipa::path(get, path = "/v1/queues/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = Queue), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_queue(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Queue>> {
    check_id(&id).map_err(|_| ApiError::NotFound("no queue with this id"))?;
    routing::queue(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no queue with this id"))
}

/// Create or replace a queue (revops, admin). Members are set on the reps.
#[utoipa::path(put, path = "/v1/queues/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = QueueInput,
    responses((status = 200, body = Queue), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_queue(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Queue>> {
    principal.require(WRITERS)?;
    Ok(Json(state.service.put_queue(&id, &body).await?))
}

/// Every rep.
#[utoipa::path(get, path = "/v1/reps", tag = "routing",
    responses((status = 200, body = RepList)), security(("bearer" = [])))]
pub async fn list_reps(State(state): State<AppState>, _: Principal) -> ApiResult<Json<RepList>> {
    Ok(Json(RepList {
        items: state.service.reps().await?,
    }))
}

/// One rep, with its queues and open-lead count.
#[utoipa::path(get, path = "/v1/reps/{id}", tag = "routing", params(("id" = String, Path)),
    responses((status = 200, body = Rep), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_rep(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Rep>> {
    check_id(&id).map_err(|_| ApiError::NotFound("no rep with this id"))?;
    routing::rep(&state.db, &id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no rep with this id"))
}

/// Create or replace a rep and its queue memberships (revops, admin).
#[utoipa::path(put, path = "/v1/reps/{id}", tag = "routing", params(("id" = String, Path)),
    request_body = RepInput,
    responses((status = 200, body = Rep), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_rep(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Rep>> {
    principal.require(WRITERS)?;
    Ok(Json(state.service.put_rep(&id, &body).await?))
}
