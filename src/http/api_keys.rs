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
    domain::{
        body::{Check, Field},
        validation::SlugKind,
        Role,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_api_key, list_api_keys))
        .routes(routes!(get_api_key, delete_api_key))
}

// Read as `domain::body` describes.
/// Body to create a key.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NewApiKey {
    #[schema(value_type = Role)]
    pub role: Field,
    /// Required for `sdr` keys (the rep they act as); refused for others.
    #[schema(value_type = Option<String>, schema_with = crate::domain::slug::opt_id_schema)]
    pub rep: Field,
    #[schema(value_type = Option<String>)]
    pub name: Field,
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
    let (NewApiKey { role, rep, name }, mut f) =
        Check::read(&body).map_err(ApiError::Validation)?;
    let role = f.req_str("role", role, 20).and_then(|r| {
        let role = Role::parse(&r);
        if role.is_none() {
            f.error("role", "must be one of ingest, sdr, revops, admin");
        }
        role
    });
    let before = f.errors.len();
    let rep = f.opt_slug("rep", rep, SlugKind::Id);
    let rep_refused = f.errors.len() > before;
    let name = f.opt_str("name", name, 200);
    match (role, &rep) {
        (Some(Role::Sdr), None) if !rep_refused => f.error("rep", "is required for an sdr key"),
        (Some(r), Some(_)) if r != Role::Sdr => f.error("rep", "only sdr keys are bound to a rep"),
        _ => {}
    }
    let role = f.done(role).map_err(ApiError::Validation)?;
    let name = name.unwrap_or_else(|| format!("{role} key"));
    let (key, token) =
        api_keys::create(&state.db, role, rep.as_deref(), &name, state.clock.now()).await?;
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
        items: api_keys::list(&state.db).await?,
    }))
}

fn key_id(raw: &str) -> ApiResult<Uuid> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no API key with this id"))
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
    api_keys::revoke(&state.db, key_id(&id)?, state.clock.now())
        .await?
        .ok_or(ApiError::NotFound("no API key with this id"))?;
    state.keys.clear();
    Ok(StatusCode::NO_CONTENT)
}
