//! `GET /v1/notifications` (admin, revops): what became of each notification to a person —
//! its status, attempts, last error, and whether it waits for a channel nobody can send on.

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
    db::notifications::{Filter, Listed},
    domain::{validation::FieldError, Role},
    notify::Channel,
};

const MANAGERS: &[Role] = &[Role::Admin, Role::Revops];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notifications))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<Listed>,
}

/// The newest notifications (up to `limit`, default 100, at most 500), newest first.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications",
    params(
        ("status" = Option<String>, Query, description = "pending, sent, dead"),
        ("channel" = Option<String>, Query, description = "slack, email"),
        ("lead_id" = Option<String>, Query),
        ("limit" = Option<u32>, Query, description = "1 to 500, default 100"),
    ),
    responses((status = 200, body = NotificationList), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_notifications(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<NotificationList>> {
    principal.require(MANAGERS)?;
    let Query(params) = params.map_err(|e| invalid("query", e.body_text()))?;
    let mut errors = Vec::new();
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let status = get("status");
    if status.is_some_and(|s| !["pending", "sent", "dead"].contains(&s)) {
        errors.push(field("status", "must be one of pending, sent, dead"));
    }
    let channel = get("channel");
    if channel.is_some_and(|c| Channel::parse(c).is_none()) {
        errors.push(field("channel", "must be one of slack, email"));
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
    for k in params.keys() {
        if !["status", "channel", "lead_id", "limit"].contains(&k.as_str()) {
            errors.push(field(k, "is not a known parameter"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let filter = Filter {
        status,
        channel,
        lead_id,
    };
    Ok(Json(NotificationList {
        items: state.service.notifications(&filter, limit).await?,
    }))
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
    }
}

fn invalid(name: &str, message: String) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: name.into(),
        message,
    }])
}
