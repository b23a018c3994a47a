//! The rejection-drivers report's use case (docs/api.md "Rejection drivers"): the decided
//! cycles of the request's period and filters with the features they were routed with
//! (`db::drivers`), counted one by one as they stream in by `domain::drivers`. Cycles stored before features were get
//! theirs from their lead's stored inputs here (`service::features`, the same rule).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{report::ReportMeta, ReportRequest};
use crate::{
    db::drivers::{self, UnfeaturedCycle},
    domain::{
        drivers::{Counter, DimensionFigures, Summary, Totals},
        validation::FieldError,
    },
    service::{
        features::{of_stored, StoredInputs},
        Result,
    },
};

/// The rejection-drivers report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DriversReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    /// Cycles a value needs to be listed (`SALGATE_DRIVER_MIN_SUPPORT`).
    pub min_support: i64,
    /// The period's decided cycles, rejections and rejection rate.
    pub total: Totals,
    /// Every dimension (and configured attribute key) with its values.
    pub dimensions: Vec<DimensionFigures>,
    /// The fewest values above the period's rate that explain the most rejections; null when
    /// none is.
    pub summary: Option<Summary>,
}

/// Reads the reports' parameters; `group_by` is refused (the report is per feature value).
pub fn read_request(
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> std::result::Result<ReportRequest, Vec<FieldError>> {
    let grouped = params.contains_key("group_by");
    let mut errors = match ReportRequest::read(params, now) {
        Ok(req) if !grouped => return Ok(req),
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    };
    if grouped && !errors.iter().any(|e| e.field == "group_by") {
        errors.push(FieldError {
            field: "group_by".into(),
            message: "the rejection-drivers report is not grouped: it lists every feature value"
                .into(),
        });
    }
    Err(errors)
}

/// The rejection-drivers report of `req`.
pub async fn rejection_drivers(
    pool: &PgPool,
    req: &ReportRequest,
    min_support: i64,
    feature_attributes: &[String],
) -> Result<DriversReport> {
    let mut counter = Counter::new();
    let older = drivers::scan(pool, &req.scope, |features, rejected, code| {
        counter.add(features, rejected, code, 1);
    })
    .await?;
    for c in &older {
        let features = of_stored(&inputs(c), feature_attributes);
        counter.add(&features, c.rejected, c.code.as_deref(), 1);
    }
    let d = counter.finish(min_support);
    let mut meta = req.meta();
    meta.group_by = None;
    Ok(DriversReport {
        meta,
        min_support: d.min_support,
        total: d.total,
        dimensions: d.dimensions,
        summary: d.summary,
    })
}

fn inputs(c: &UnfeaturedCycle) -> StoredInputs<'_> {
    StoredInputs {
        title: c.title.as_deref(),
        company: c.company.as_ref(),
        campaign: c.campaign.as_deref(),
        channel: c.channel.as_deref(),
        source: &c.source,
        score: c.score,
        lead_type: &c.lead_type,
        attributes: Some(&c.attributes),
    }
}
