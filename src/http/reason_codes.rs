//! `/v1/rejection-codes` and `/v1/recycle-reasons`: the coded taxonomy RevOps owns.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::reason_codes::{ReasonCode, ReasonKind},
    domain::Role,
    service::settings::taxonomy::{NewReasonCode, ReasonCodePatch},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rejection_codes, create_rejection_code))
        .routes(routes!(update_rejection_code))
        .routes(routes!(list_recycle_reasons, create_recycle_reason))
        .routes(routes!(update_recycle_reason))
}

const WRITERS: &[Role] = &[Role::Revops, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonCodeList {
    pub items: Vec<ReasonCode>,
}

async fn list(state: AppState, kind: ReasonKind) -> ApiResult<Json<ReasonCodeList>> {
    Ok(Json(ReasonCodeList {
        items: state.service.reason_codes(kind).await?,
    }))
}

async fn create(
    state: AppState,
    principal: Principal,
    kind: ReasonKind,
    body: serde_json::Value,
) -> ApiResult<(StatusCode, Json<ReasonCode>)> {
    principal.require(WRITERS)?;
    let created = state.service.create_reason_code(kind, &body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn update(
    state: AppState,
    principal: Principal,
    kind: ReasonKind,
    code: String,
    body: serde_json::Value,
) -> ApiResult<Json<ReasonCode>> {
    principal.require(WRITERS)?;
    Ok(Json(
        state.service.update_reason_code(kind, &code, &body).await?,
    ))
}

/// All rejection codes, active and retired.
#[utoipa::path(get, path = "/v1/rejection-codes", tag = "taxonomy",
    responses((status = 200, body = ReasonCodeList)), security(("bearer" = [])))]
pub async fn list_rejection_codes(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<ReasonCodeList>> {
    list(state, ReasonKind::Rejection).await
}

/// Add a rejection code (revops, admin).
#[utoipa::path(post, path = "/v1/rejection-codes", tag = "taxonomy", request_body = NewReasonCode,
    responses((status = 201, body = ReasonCode), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_rejection_code(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<ReasonCode>)> {
    create(state, principal, ReasonKind::Rejection, body).await
}

/// Relabel or retire a rejection code (revops, admin).
#[utoipa::path(patch, path = "/v1/rejection-codes/{code}", tag = "taxonomy", request_body = ReasonCodePatch,
    params(("code" = String, Path)),
    responses((status = 200, body = ReasonCode), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update_rejection_code(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ReasonCode>> {
    update(state, principal, ReasonKind::Rejection, code, body).await
}

/// All recycle reasons, active and retired.
#[utoipa::path(get, path = "/v1/recycle-reasons", tag = "taxonomy",
    responses((status = 200, body = ReasonCodeList)), security(("bearer" = [])))]
pub async fn list_recycle_reasons(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<ReasonCodeList>> {
    list(state, ReasonKind::Recycle).await
}

/// Add a recycle reason (revops, admin).
#[utoipa::path(post, path = "/v1/recycle-reasons", tag = "taxonomy", request_body = NewReasonCode,
    responses((status = 201, body = ReasonCode), (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_recycle_reason(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<ReasonCode>)> {
    create(state, principal, ReasonKind::Recycle, body).await
}

/// Relabel or retire a recycle reason (revops, admin).
#[utoipa::path(patch, path = "/v1/recycle-reasons/{code}", tag = "taxonomy", request_body = ReasonCodePatch,
    params(("code" = String, Path)),
    responses((status = 200, body = ReasonCode), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn update_recycle_reason(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ReasonCode>> {
    update(state, principal, ReasonKind::Recycle, code, body).await
}
