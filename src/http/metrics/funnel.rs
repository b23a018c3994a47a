//! `GET /v1/metrics/funnel`: the reports' query and `currency`, JSON or CSV.

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::HeaderMap,
    response::Response,
};

use super::{handlers::respond_fresh, ReportQuery, READERS};
use crate::{
    domain::validation::FieldError,
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::Principal,
        AppState,
    },
    service::metrics::{
        csv,
        funnel::{self, FunnelQuery, FunnelRequest},
        report::FunnelReport,
    },
};

/// Funnel: routed → accepted → meeting → SQL → opportunity → won per group, each stage's
/// rates, pipeline per accepted lead, time from acceptance to each stage, and cost per lead
/// where campaign spend is known.
#[utoipa::path(get, path = "/v1/metrics/funnel", tag = "metrics", params(ReportQuery, FunnelQuery),
    responses(
        (status = 200, content((FunnelReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_funnel_metrics(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Response> {
    principal.require(READERS)?;
    let Query(params) = params.map_err(|e| {
        ApiError::Validation(vec![FieldError {
            field: "query".into(),
            message: e.body_text(),
        }])
    })?;
    let req = &FunnelRequest::read(&params, state.clock.now()).map_err(ApiError::Validation)?;
    let (report, fresh) = state
        .read(|pool| async move { funnel::funnel(&pool, req).await })
        .await?;
    Ok(respond_fresh(&headers, report, fresh, csv::funnel))
}
