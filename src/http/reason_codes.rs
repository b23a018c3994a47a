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
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::reason_codes::{self, ReasonCode, ReasonKind},
    domain::{
        body::{Check, Field},
        validation::SlugKind,
        Role,
    },
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

// Read as `domain::body` describes, as is the patch.
/// Body to create a code.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NewReasonCode {
    /// Lowercase letters, digits, `_-.`; at most 64 characters.
    #[schema(value_type = String, schema_with = crate::domain::slug::key_schema)]
    pub code: Field,
    #[schema(value_type = String)]
    pub label: Field,
    /// Default true.
    #[schema(value_type = Option<bool>)]
    pub active: Field,
}

/// Body to change a code: label and/or active (retire with `false`).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct ReasonCodePatch {
    #[schema(value_type = Option<String>)]
    pub label: Field,
    #[schema(value_type = Option<bool>)]
    pub active: Field,
}

async fn list(state: AppState, kind: ReasonKind) -> ApiResult<Json<ReasonCodeList>> {
    Ok(Json(ReasonCodeList {
        items: reason_codes::list(&state.db, kind).await?,
    }))
}

async fn create(
    state: AppState,
    principal: Principal,
    kind: ReasonKind,
    body: serde_json::Value,
) -> ApiResult<(StatusCode, Json<ReasonCode>)> {
    principal.require(WRITERS)?;
    let (
        NewReasonCode {
            code,
            label,
            active,
        },
        mut f,
    ) = Check::read(&body).map_err(ApiError::Validation)?;
    let code = f.req_slug("code", code, SlugKind::Key);
    let label = f.req_str("label", label, 200);
    let active = f.opt_bool("active", active).unwrap_or(true);
    let (code, label) = f.done(code.zip(label)).map_err(ApiError::Validation)?;
    let created = reason_codes::create(&state.db, kind, &code, &label, active, state.clock.now())
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "already_exists",
            detail: format!("the {} code `{code}` already exists", kind.as_str()),
        })?;
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
    if !SlugKind::Key.matches(&code) {
        return Err(ApiError::NotFound("no such code"));
    }
    let (ReasonCodePatch { label, active }, mut f) =
        Check::read(&body).map_err(ApiError::Validation)?;
    let label = f.opt_str("label", label, 200);
    let active = f.opt_bool("active", active);
    f.done(Some(())).map_err(ApiError::Validation)?;
    reason_codes::update(
        &state.db,
        kind,
        &code,
        label.as_deref(),
        active,
        state.clock.now(),
    )
    .await?
    .map(Json)
    .ok_or(ApiError::NotFound("no such code"))
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
