//! `/v1/metrics/*`: the RevOps reports of docs/api.md §6, as JSON or (`Accept: text/csv`) CSV.
//! The reports are built by `service::metrics`; this is their HTTP edge.

mod drivers;
mod funnel;
mod handlers;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use axum::extract::{rejection::QueryRejection, Query};
use chrono::{DateTime, Utc};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult},
    AppState,
};
use crate::domain::{validation::FieldError, Role};

pub use crate::service::metrics::{report, ReportQuery, ReportRequest};
pub use handlers::*;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_acceptance_metrics))
        .routes(routes!(get_rejection_metrics))
        .routes(routes!(get_sla_metrics))
        .routes(routes!(get_recycling_metrics))
        .routes(routes!(funnel::get_funnel_metrics))
        .routes(routes!(drivers::get_rejection_drivers))
}

const READERS: &[Role] = &[Role::Revops, Role::Admin];

impl ReportRequest {
    /// Reads the query string of a report request; a malformed one is a 422 on `query`.
    fn parse(
        params: Result<Query<HashMap<String, String>>, QueryRejection>,
        now: DateTime<Utc>,
    ) -> ApiResult<ReportRequest> {
        let Query(params) = params.map_err(|e| {
            ApiError::Validation(vec![FieldError {
                field: "query".into(),
                message: e.body_text(),
            }])
        })?;
        ReportRequest::read(&params, now).map_err(ApiError::Validation)
    }
}
