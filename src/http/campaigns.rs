//! `/v1/campaigns`: what each campaign cost per month (revops, admin); the funnel report's
//! cost per lead comes from it.

use axum::{
    extract::{Path, State},
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
use crate::{db::campaigns::Campaign, domain::spend::CampaignInput, domain::Role};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_campaigns))
        .routes(routes!(get_campaign, put_campaign))
}

const ROLES: &[Role] = &[Role::Revops, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    pub items: Vec<Campaign>,
}

/// Every campaign with known spend (revops, admin).
#[utoipa::path(get, path = "/v1/campaigns", tag = "outcomes",
    responses((status = 200, body = CampaignList),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_campaigns(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<CampaignList>> {
    principal.require(ROLES)?;
    Ok(Json(CampaignList {
        items: state.service.campaigns().await?,
    }))
}

/// One campaign's spend per month (revops, admin).
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "outcomes", params(("id" = String, Path)),
    responses((status = 200, body = Campaign),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_campaign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Campaign>> {
    principal.require(ROLES)?;
    Ok(Json(state.service.campaign(&id).await?))
}

/// Set (replace) a campaign's spend per month, all months in one currency (revops, admin).
/// The id is the `campaign` value its leads carry.
#[utoipa::path(put, path = "/v1/campaigns/{id}", tag = "outcomes", params(("id" = String, Path)),
    request_body = CampaignInput,
    responses((status = 200, body = Campaign),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_campaign(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Campaign>> {
    principal.require(ROLES)?;
    Ok(Json(state.service.put_campaign(&id, &body).await?))
}
