//! `/app/dashboard/csv/{table}`: each dashboard table as CSV, for the same period and
//! filters. The report tables are the API's own CSV (`Accept: text/csv` on
//! `/v1/metrics/*`), built by the same code.

use std::collections::HashMap;

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use chrono::SecondsFormat;

use super::{Filters, READERS};
use crate::{
    db::metrics::GroupBy,
    http::AppState,
    pages::{PageError, Viewer},
    service::metrics::{self, csv, regrouped, PAST_DUE_LIMIT},
};

/// The tables, by the name in the route.
pub const TABLES: &[&str] = &[
    "time",
    "rejections",
    "sla",
    "recycling",
    "owner",
    "queue",
    "campaign",
    "past-due",
];

/// One table of the dashboard as CSV; 404 for a table that does not exist.
pub async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(table): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    viewer.require(READERS)?;
    if !TABLES.contains(&table.as_str()) {
        return Err(PageError::NotFound("no such table"));
    }
    let now = state.clock.now();
    let req = Filters::from_query(query).request(now).map_err(|_| {
        PageError::BadRequest("the period or a filter is not valid; fix it on the dashboard".into())
    })?;
    let (pool, bands) = (state.read_pool().pool, state.acceptance_bands);
    let group = |g| regrouped(&req, g);
    let body = match table.as_str() {
        "time" => csv::acceptance(&metrics::acceptance(pool, bands, &req).await?),
        "rejections" => csv::rejections(&metrics::rejections(pool, &req).await?),
        "sla" => csv::sla(&metrics::sla(pool, &req, now).await?),
        "recycling" => csv::recycling(&metrics::recycling(pool, &req).await?),
        "owner" => {
            csv::acceptance(&metrics::acceptance(pool, bands, &group(GroupBy::Owner)).await?)
        }
        "queue" => {
            csv::acceptance(&metrics::acceptance(pool, bands, &group(GroupBy::Queue)).await?)
        }
        "campaign" => {
            csv::acceptance(&metrics::acceptance(pool, bands, &group(GroupBy::Campaign)).await?)
        }
        _ => past_due(
            &metrics::past_due(pool, &req, now, PAST_DUE_LIMIT).await?,
            now,
        ),
    };
    let name = format!("attachment; filename=\"salgate-{table}.csv\"");
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The past-due list: lead, owner, queue, due time, seconds overdue at `now`.
fn past_due(rows: &[metrics::PastDueRow], now: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::from("lead_id,owner,queue,sla_due_at,overdue_s\n");
    for r in rows {
        let cells = [
            r.lead_id.to_string(),
            csv::text(r.owner.as_deref().unwrap_or("")),
            csv::text(r.queue.as_deref().unwrap_or("")),
            r.sla_due_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            (now - r.sla_due_at).num_seconds().to_string(),
        ];
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}
