//! The report handlers: parse the query, read `db::metrics`, build the document, answer JSON
//! or CSV.

use std::collections::{BTreeMap, HashMap};

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use super::{
    csv,
    report::{
        self, AcceptanceReport, CodeTable, RecyclingReport, RejectionFigures, RejectionGroup,
        RejectionReport, SlaReport,
    },
    ReportQuery, ReportRequest, READERS,
};
use crate::{
    db::{
        cycle_hours,
        metrics::{self as db, GroupBy},
    },
    http::{
        error::{ApiResult, Problem},
        extract::Principal,
        AppState,
    },
};

/// Whether the client asked for CSV.
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| {
            range
                .split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv"))
        })
}

fn respond<T: Serialize>(
    headers: &HeaderMap,
    report: T,
    csv: impl FnOnce(&T) -> String,
) -> Response {
    if wants_csv(headers) {
        let mut res = csv(&report).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        res
    } else {
        Json(report).into_response()
    }
}

/// Acceptance: routed, accepted, rejected, recycled, open, acceptance rate and band,
/// accepted-within-SLA rate, time to decision.
#[utoipa::path(get, path = "/v1/metrics/acceptance", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((AcceptanceReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_acceptance_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let req = ReportRequest::parse(params, state.clock.now())?;
    let buckets = req.buckets();
    let rows = match compacted_acceptance(&state, &req, buckets.as_deref()).await? {
        Some(rows) => rows,
        None => db::acceptance(&state.db, &req.scope, req.group).await?,
    };
    let report = report::acceptance(
        req.meta(),
        state.acceptance_bands,
        buckets.as_deref(),
        &rows,
    );
    Ok(respond(&headers, report, csv::acceptance))
}

/// The unfiltered acceptance report, ungrouped or by time, from compacted hours (see
/// `db::cycle_hours`); `None` when it cannot be: filters, grouping by a field, buckets that do
/// not start on whole UTC hours (zones offset by :30 or :45), or a period under an hour.
async fn compacted_acceptance(
    state: &AppState,
    req: &ReportRequest,
    buckets: Option<&[String]>,
) -> ApiResult<Option<Vec<db::AcceptanceRow>>> {
    let s = &req.scope;
    let filtered = [
        &s.source,
        &s.campaign,
        &s.channel,
        &s.lead_type,
        &s.queue,
        &s.owner,
    ]
    .iter()
    .any(|f| f.is_some());
    if filtered || !matches!(req.group, None | Some(GroupBy::Time(_))) {
        return Ok(None);
    }
    let starts = req.bucket_starts();
    if let Some(starts) = &starts {
        if starts.iter().any(|t| t.timestamp() % 3600 != 0) {
            return Ok(None);
        }
    }
    let Some(pieces) = cycle_hours::pieces(&state.db, s.from, s.to).await? else {
        return Ok(None);
    };
    let keys = buckets.zip(starts.as_deref());
    Ok(Some(cycle_hours::fold(&pieces, keys)))
}

/// Rejections: count and share per code, each compared with the previous equal period; codes
/// whose share rose by 10 points or more are flagged `rising`.
#[utoipa::path(get, path = "/v1/metrics/rejections", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((RejectionReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_rejection_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let req = ReportRequest::parse(params, state.clock.now())?;
    let scope = &req.scope;
    let previous_from = scope.from - (scope.to - scope.from);
    let previous = scope.with_range(previous_from, scope.from);
    let current = report::code_table(&db::rejections(&state.db, scope, req.group).await?);
    let before = report::code_table(&db::rejections(&state.db, &previous, req.group).await?);
    let total = RejectionFigures::new(
        &report::code_totals(&current),
        &report::code_totals(&before),
    );
    let groups = match (req.group, req.buckets()) {
        (Some(GroupBy::Time(_)), Some(buckets)) => {
            rejection_time_groups(&state, &req, &current, buckets).await?
        }
        (Some(_), _) => {
            let empty = BTreeMap::new();
            report::group_keys(None, current.keys())
                .into_iter()
                .map(|key| RejectionGroup {
                    figures: RejectionFigures::new(
                        current.get(&key).unwrap_or(&empty),
                        before.get(&key).unwrap_or(&empty),
                    ),
                    key,
                })
                .collect()
        }
        (None, _) => Vec::new(),
    };
    let report = RejectionReport {
        meta: req.meta(),
        previous_from,
        total,
        groups,
    };
    Ok(respond(&headers, report, csv::rejections))
}

/// Time buckets of the rejection report: each against the one before; the first against as
/// long a stretch just before `from` (buckets are cut by the period's ends).
async fn rejection_time_groups(
    state: &AppState,
    req: &ReportRequest,
    current: &CodeTable,
    buckets: Vec<String>,
) -> ApiResult<Vec<RejectionGroup>> {
    let scope = &req.scope;
    let first_end = req
        .bucket_starts()
        .and_then(|starts| starts.get(1).copied())
        .map_or(scope.to, |t| t.min(scope.to));
    let lead_in = scope.with_range(scope.from - (first_end - scope.from), scope.from);
    let lead_in = report::code_totals(&report::code_table(
        &db::rejections(&state.db, &lead_in, None).await?,
    ));
    let empty = BTreeMap::new();
    let mut prev = &lead_in;
    let mut out = Vec::with_capacity(buckets.len());
    for key in buckets {
        let now = current.get(&Some(key.clone())).unwrap_or(&empty);
        out.push(RejectionGroup {
            key: Some(key),
            figures: RejectionFigures::new(now, prev),
        });
        prev = now;
    }
    Ok(out)
}

/// SLA: breaches and breach rate, cycles open past due now (silent non-acceptance),
/// first-touch compliance, time to first touch.
#[utoipa::path(get, path = "/v1/metrics/sla", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((SlaReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_sla_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let now = state.clock.now();
    let req = ReportRequest::parse(params, now)?;
    let rows = db::sla(&state.db, &req.scope, req.group, now).await?;
    let buckets = req.buckets();
    let report = report::sla(req.meta(), now, buckets.as_deref(), &rows);
    Ok(respond(&headers, report, csv::sla))
}

/// Recycling: recycled cycles, how many of their leads were routed again and accepted later
/// (recycle conversion), and the reasons.
#[utoipa::path(get, path = "/v1/metrics/recycling", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((RecyclingReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_recycling_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let req = ReportRequest::parse(params, state.clock.now())?;
    let rows = db::recycling(&state.db, &req.scope, req.group).await?;
    let reasons = report::code_table(&db::recycle_reasons(&state.db, &req.scope, req.group).await?);
    let buckets = req.buckets();
    let report = report::recycling(req.meta(), buckets.as_deref(), &rows, &reasons);
    Ok(respond(&headers, report, csv::recycling))
}
