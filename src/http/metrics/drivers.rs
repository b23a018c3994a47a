//! `GET /v1/metrics/rejection-drivers`: the reports' query (without `group_by`), JSON or CSV.

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
        drivers::{self, DriversReport},
    },
};

/// Rejection drivers: for every feature value of the period's decided cycles (title
/// seniority and function, company size band, country, region, industry, campaign, channel,
/// source, score band, lead type, configured attributes) its cycles, rejection rate, lift
/// over the period's rate, share of rejections, top codes and Wilson 95 % interval; values
/// under the minimum support suppressed; and the fewest values that explain the most
/// rejections. `group_by` is not accepted.
#[utoipa::path(get, path = "/v1/metrics/rejection-drivers", tag = "metrics", params(ReportQuery),
    responses(
        (status = 200, content((DriversReport = "application/json"), (String = "text/csv"))),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_rejection_drivers(
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
    let req = drivers::read_request(&params, state.clock.now()).map_err(ApiError::Validation)?;
    let (support, keys, req) = (state.driver_min_support, &state.feature_attributes, &req);
    // A report like the others: the read replica while it is fresh enough, said in `freshness`.
    let (report, fresh) = state
        .read(|pool| async move { drivers::rejection_drivers(&pool, req, support, keys).await })
        .await?;
    Ok(respond_fresh(&headers, report, fresh, csv::drivers))
}
