//! `GET /v1/crm-writebacks` (admin, revops): what became of each write-back to HubSpot and
//! Salesforce — its status, attempts and the CRM's message for a failed one (docs/crm.md).

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::Principal,
    AppState,
};
use crate::{
    crm::CrmKind,
    db::crm::{Filter, Listed},
    domain::{validation::FieldError, Role},
};

const MANAGERS: &[Role] = &[Role::Admin, Role::Revops];
const PARAMS: [&str; 4] = ["status", "crm", "lead_id", "limit"];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_crm_writebacks))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CrmWritebackList {
    pub items: Vec<Listed>,
}

/// The newest write-backs to the CRMs (up to `limit`, default 100, at most 500), newest
/// first; `status=failed` lists those the CRM refused or that ran out of retries.
#[utoipa::path(get, path = "/v1/crm-writebacks", tag = "crm",
    params(
        ("status" = Option<String>, Query, description = "pending, sent, failed"),
        ("crm" = Option<String>, Query, description = "hubspot, salesforce"),
        ("lead_id" = Option<String>, Query),
        ("limit" = Option<u32>, Query, description = "1 to 500, default 100"),
    ),
    responses((status = 200, body = CrmWritebackList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_crm_writebacks(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<CrmWritebackList>> {
    principal.require(MANAGERS)?;
    let Query(params) =
        params.map_err(|e| ApiError::Validation(vec![field("query", &e.body_text())]))?;
    let mut errors = Vec::new();
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let status = get("status");
    if status.is_some_and(|s| !["pending", "sent", "failed"].contains(&s)) {
        errors.push(field("status", "must be one of pending, sent, failed"));
    }
    let crm = get("crm");
    if crm.is_some_and(|c| CrmKind::parse(c).is_none()) {
        errors.push(field("crm", "must be one of hubspot, salesforce"));
    }
    let lead_id = match get("lead_id").map(uuid::Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            errors.push(field("lead_id", "must be a lead id (UUID)"));
            None
        }
    };
    let limit = match get("limit").map(str::parse::<i64>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(_) => {
            errors.push(field("limit", "must be a whole number from 1 to 500"));
            100
        }
    };
    for k in params.keys().filter(|k| !PARAMS.contains(&k.as_str())) {
        errors.push(field(k, "is not a known parameter"));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let filter = Filter {
        status,
        crm,
        lead_id,
    };
    Ok(Json(CrmWritebackList {
        items: state.service.crm_writebacks(&filter, limit).await?,
    }))
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
    }
}
