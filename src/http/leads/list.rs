//! `GET /v1/leads`: the filtered list, a page at a time.

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    Json,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::READERS;
use crate::{
    db::leads::LeadFilter,
    domain::{
        sla::SlaStatus,
        validation::{FieldError, Fields},
        LeadState,
    },
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::Principal,
        AppState,
    },
    service::cursor,
    views::lead::Lead,
};

/// A page of leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    pub items: Vec<Lead>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// List leads, oldest first. SDR keys see their rep's leads and the unassigned leads of its
/// queues.
#[utoipa::path(get, path = "/v1/leads", tag = "leads",
    params(
        ("state" = Option<LeadState>, Query, description = "routed, accepted, rejected, recycled"),
        ("owner" = Option<String>, Query, description = "rep id"),
        ("queue" = Option<String>, Query),
        ("source" = Option<String>, Query),
        ("lead_type" = Option<String>, Query),
        ("sla_status" = Option<SlaStatus>, Query, description = "on_track, at_risk, breached, met, missed"),
        ("limit" = Option<u32>, Query, description = "1 to 500, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = LeadPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_leads(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<LeadPage>> {
    principal.require(READERS)?;
    let Query(params) = params.map_err(|e| {
        ApiError::Validation(vec![FieldError {
            field: "query".into(),
            message: e.body_text(),
        }])
    })?;
    let (filter, limit) = parse_filter(params).map_err(ApiError::Validation)?;
    let page = state
        .service
        .list(&principal.caller(), filter, limit)
        .await?;
    Ok(Json(LeadPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The query's filters and page size, every bad parameter reported at once.
fn parse_filter(params: HashMap<String, String>) -> Result<(LeadFilter, i64), Vec<FieldError>> {
    let value = Value::Object(
        params
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    );
    let mut f = Fields::root(&value)?;
    let mut filter = LeadFilter {
        owner: f.opt_str("owner", 100),
        queue: f.opt_str("queue", 100),
        source: f.opt_str("source", 64),
        lead_type: f.opt_str("lead_type", 64),
        ..LeadFilter::default()
    };
    if let Some(s) = f.opt_str("state", 20) {
        filter.state = LeadState::parse(&s);
        if filter.state.is_none() {
            f.error(
                "state",
                "must be one of routed, accepted, rejected, recycled",
            );
        }
    }
    if let Some(s) = f.opt_str("sla_status", 20) {
        filter.sla_status = SlaStatus::parse(&s);
        if filter.sla_status.is_none() {
            f.error(
                "sla_status",
                "must be one of on_track, at_risk, breached, met, missed",
            );
        }
    }
    let limit = match f.opt_str("limit", 10) {
        None => 100,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                f.error("limit", "must be a whole number from 1 to 500");
                100
            }
        },
    };
    if let Some(c) = f.opt_str("cursor", 100) {
        filter.after = cursor::decode(&c);
        if filter.after.is_none() {
            f.error("cursor", "is not a cursor returned by this endpoint");
        }
    }
    let errors = f.finish();
    if errors.is_empty() {
        Ok((filter, limit))
    } else {
        Err(errors)
    }
}
