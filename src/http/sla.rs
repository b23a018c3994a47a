//! `/v1/sla-policies` and `/v1/calendars`: what "on time" means, owned by RevOps.

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
    db::sla::{self, CalendarRow, PolicyRow},
    domain::{
        sla_input::{CalendarBody, PolicyBody},
        Role,
    },
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sla_policies))
        .routes(routes!(get_sla_policy, put_sla_policy))
        .routes(routes!(list_calendars))
        .routes(routes!(get_calendar, put_calendar))
}

const WRITERS: &[Role] = &[Role::Revops, Role::Admin];

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyList {
    pub items: Vec<PolicyRow>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarList {
    pub items: Vec<CalendarRow>,
}

/// Every SLA policy (`default` applies to lead types without their own).
#[utoipa::path(get, path = "/v1/sla-policies", tag = "sla",
    responses((status = 200, body = PolicyList)), security(("bearer" = [])))]
pub async fn list_sla_policies(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<PolicyList>> {
    Ok(Json(PolicyList {
        items: state.service.sla_policies().await?,
    }))
}

/// The policy of one lead type.
#[utoipa::path(get, path = "/v1/sla-policies/{lead_type}", tag = "sla", params(("lead_type" = String, Path)),
    responses((status = 200, body = PolicyRow), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_sla_policy(
    State(state): State<AppState>,
    _: Principal,
    Path(lead_type): Path<String>,
) -> ApiResult<Json<PolicyRow>> {
    sla::policies(&state.db)
        .await?
        .into_iter()
        .find(|p| p.lead_type == lead_type)
        .map(Json)
        .ok_or(ApiError::NotFound(
            "no SLA policy for this lead type (the default policy applies)",
        ))
}

/// Create or replace the policy of a lead type (revops, admin). Applies to cycles routed
/// from now on; deadlines already stored do not move.
#[utoipa::path(put, path = "/v1/sla-policies/{lead_type}", tag = "sla", params(("lead_type" = String, Path)),
    request_body = PolicyBody,
    responses((status = 200, body = PolicyRow), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_sla_policy(
    State(state): State<AppState>,
    principal: Principal,
    Path(lead_type): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<PolicyRow>> {
    principal.require(WRITERS)?;
    Ok(Json(state.service.put_sla_policy(&lead_type, &body).await?))
}

/// Every calendar.
#[utoipa::path(get, path = "/v1/calendars", tag = "sla",
    responses((status = 200, body = CalendarList)), security(("bearer" = [])))]
pub async fn list_calendars(
    State(state): State<AppState>,
    _: Principal,
) -> ApiResult<Json<CalendarList>> {
    Ok(Json(CalendarList {
        items: state.service.calendars().await?,
    }))
}

/// One calendar.
#[utoipa::path(get, path = "/v1/calendars/{id}", tag = "sla", params(("id" = String, Path)),
    responses((status = 200, body = CalendarRow), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_calendar(
    State(state): State<AppState>,
    _: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CalendarRow>> {
    sla::calendars(&state.db)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .map(Json)
        .ok_or(ApiError::NotFound("no calendar with this id"))
}

/// Create or replace a calendar (revops, admin).
#[utoipa::path(put, path = "/v1/calendars/{id}", tag = "sla", params(("id" = String, Path)),
    request_body = CalendarBody,
    responses((status = 200, body = CalendarRow), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn put_calendar(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<CalendarRow>> {
    principal.require(WRITERS)?;
    Ok(Json(state.service.put_calendar(&id, &body).await?))
}
