//! The report handlers: parse the query, call the report's use case, answer JSON or CSV.

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

use super::{
    report::{AcceptanceReport, RecyclingReport, RejectionReport, SlaReport},
    ReportQuery, ReportRequest, READERS,
};
use crate::{
    http::{
        error::{ApiResult, Problem},
        extract::Principal,
        AppState,
    },
    service::{
        metrics::{self, csv},
        replica::{Freshness, ReadSource},
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

pub(super) fn respond<T: Serialize>(
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

/// `respond`, with how fresh the report's data is: a `freshness` member of the JSON document
/// and, for either type, `Salgate-Read-From` and `Salgate-Data-As-Of` headers.
pub(super) fn respond_fresh<T: Serialize>(
    headers: &HeaderMap,
    report: T,
    freshness: Freshness,
    csv: impl FnOnce(&T) -> String,
) -> Response {
    #[derive(Serialize)]
    struct Fresh<T> {
        #[serde(flatten)]
        report: T,
        freshness: Freshness,
    }
    let fresh = Fresh { report, freshness };
    let mut res = respond(headers, fresh, |f| csv(&f.report));
    let source = match freshness.source {
        ReadSource::Primary => "primary",
        ReadSource::Replica => "replica",
    };
    let as_of = freshness
        .as_of
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    res.headers_mut()
        .insert("salgate-read-from", HeaderValue::from_static(source));
    if let Ok(v) = HeaderValue::from_str(&as_of) {
        res.headers_mut().insert("salgate-data-as-of", v);
    }
    res
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
    let req = &ReportRequest::parse(params, state.clock.now())?;
    let bands = state.acceptance_bands;
    let (report, fresh) = state
        .read(|pool| async move { metrics::acceptance(&pool, bands, req).await })
        .await?;
    Ok(respond_fresh(&headers, report, fresh, csv::acceptance))
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
    let req = &ReportRequest::parse(params, state.clock.now())?;
    let (report, fresh) = state
        .read(|pool| async move { metrics::rejections(&pool, req).await })
        .await?;
    Ok(respond_fresh(&headers, report, fresh, csv::rejections))
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
    let req = &ReportRequest::parse(params, now)?;
    let (report, fresh) = state
        .read(|pool| async move { metrics::sla(&pool, req, now).await })
        .await?;
    Ok(respond_fresh(&headers, report, fresh, csv::sla))
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
    let req = &ReportRequest::parse(params, state.clock.now())?;
    let (report, fresh) = state
        .read(|pool| async move { metrics::recycling(&pool, req).await })
        .await?;
    Ok(respond_fresh(&headers, report, fresh, csv::recycling))
}
