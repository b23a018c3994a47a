//! `/v1/api-keys` (admin): create (token shown once), list, get, revoke.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::api_keys::{self, ApiKey},
    domain::Role,
    service::settings::keys::{self, NewApiKey},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(get_api_key, delete_api_key))
}

/// A created key with its token: the only time the token is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// Create an API key. The token is in this response only.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_api_key(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<CreatedApiKey>)> {
    principal.require(&[Role::Admin])?;
    let (key, token) = state.service.create_api_key(&body).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey { key, token })))
}

/// List API keys (without tokens).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys",
    responses((status = 200, body = ApiKeyList)), security(("bearer" = [])))]
pub async fn list_api_keys(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ApiKeyList>> {
    principal.require(&[Role::Admin])?;
    Ok(Json(ApiKeyList {
        items: state.service.api_keys().await?,
    }))
}

fn key_id(raw: &str) -> ApiResult<Uuid> {
    Ok(keys::key_id(raw)?)
}

/// Get one API key (without token).
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path)),
    responses((status = 200, body = ApiKey), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKey>> {
    principal.require(&[Role::Admin])?;
    api_keys::get(&state.db, key_id(&id)?)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("no API key with this id"))
}

/// Revoke an API key. Other replicas stop accepting it within the key cache TTL.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_api_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(&[Role::Admin])?;
    state.service.revoke_api_key(key_id(&id)?).await?;
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}
