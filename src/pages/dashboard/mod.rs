//! The RevOps dashboard (`/app/dashboard`, revops and admin): the `/v1/metrics/*` reports for
//! one period and filter set, read through the same use cases (`service::metrics`), so every
//! figure on the page is the one the API reports for the same query.

mod charts;
mod csv;
mod format;
mod insights;
mod model;
mod view;

use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use chrono::{DateTime, Utc};

use super::{form::Errors, PageError, Viewer};
use crate::{
    domain::Role,
    http::AppState,
    service::metrics::{self, ReportRequest},
};

/// Who may see the dashboard (the API's metric readers).
const READERS: &[Role] = &[Role::Revops, Role::Admin];

/// The parameters the page's form sends, all of them the API's (`ReportQuery`).
pub const PARAMS: &[&str] = &[
    "from",
    "to",
    "tz",
    "group_by",
    "source",
    "campaign",
    "channel",
    "lead_type",
    "queue",
    "owner",
];

/// The time groupings the period picker offers.
pub const TIME_GROUPS: &[&str] = &["day", "week", "month"];

/// The dashboard and its CSV downloads.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/dashboard", get(show))
        .route("/app/dashboard/csv/{table}", get(csv::download))
}

/// The form's values: what was asked for, with empty inputs dropped (a plain GET form sends
/// every input) and the time grouping defaulting to weeks.
#[derive(Debug, Clone)]
pub struct Filters(pub HashMap<String, String>);

impl Filters {
    fn from_query(query: HashMap<String, String>) -> Filters {
        let mut params: HashMap<String, String> = query
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        params
            .entry("group_by".into())
            .or_insert_with(|| "week".into());
        Filters(params)
    }

    /// The value of parameter `name`, "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// The query string that asks the API (or this page's CSV route) the same thing.
    pub fn query_string(&self) -> String {
        PARAMS
            .iter()
            .filter_map(|k| self.0.get(*k).map(|v| (k, v)))
            .map(|(k, v)| format!("{k}={}", super::layout::query_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The request, or the messages for the form's fields. Only a time grouping is offered:
    /// the per-field tables are grouped by the page itself.
    fn request(&self, now: DateTime<Utc>) -> Result<ReportRequest, Errors> {
        let mut errors = Errors::none();
        if !TIME_GROUPS.contains(&self.get("group_by")) {
            errors.add("group_by", "must be day, week or month");
        }
        match ReportRequest::read(&self.0, now) {
            Ok(req) if errors.is_empty() => Ok(req),
            Ok(_) => Err(errors),
            Err(list) => {
                for e in list {
                    errors.add(&e.field, e.message);
                }
                Err(errors)
            }
        }
    }
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    viewer.require(READERS)?;
    let filters = Filters::from_query(query);
    let now = state.clock.now();
    match filters.request(now) {
        Ok(req) => {
            let (bands, req) = (state.acceptance_bands, &req);
            let (d, _) = state
                .read(|pool| async move { metrics::dashboard(&pool, bands, req, now).await })
                .await?;
            let (support, keys) = (state.driver_min_support, &state.feature_attributes);
            let more = insights::load(&state.db, req, support, keys).await?;
            let starts: Vec<i64> = req
                .bucket_starts()
                .unwrap_or_default()
                .iter()
                .map(|t| t.timestamp())
                .collect();
            let shown = Some((&d, starts.as_slice(), &more));
            let model = state.service.model_report().await?;
            let page = view::page(&viewer, &filters, &Errors::none(), shown, Some(&model));
            Ok(page.into_response())
        }
        // A refused period is the same page with each message next to its input.
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            view::page(&viewer, &filters, &errors, None, None),
        )
            .into_response()),
    }
}
