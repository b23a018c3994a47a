//! Everything the RevOps dashboard shows, built by the same report functions as
//! `/v1/metrics/*` so that its numbers are the API's: the time-grouped reports (their totals
//! are the headline figures), the acceptance report per rep, queue and campaign, and the
//! cycles open past due now.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    acceptance, acceptance_by_fields, recycling, rejections, sla, AcceptanceReport,
    RecyclingReport, RejectionReport, ReportRequest, SlaReport,
};
use crate::{
    db::metrics::{self as db, GroupBy, PastDueRow},
    domain::metrics::BandLimits,
    service::Result,
};

/// How many open-past-due cycles the dashboard lists (the count is the SLA report's).
pub const PAST_DUE_LIMIT: i64 = 200;

/// The dashboard's reports for one period and filter set.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Acceptance per time bucket; its total gives the headline figures.
    pub acceptance: AcceptanceReport,
    /// Rejection codes per time bucket, with their trend flags.
    pub rejections: RejectionReport,
    /// The SLA report per time bucket (open past due now, first-touch compliance).
    pub sla: SlaReport,
    /// The recycling report per time bucket (recycle conversion).
    pub recycling: RecyclingReport,
    /// Acceptance per rep (`group_by=owner`).
    pub by_owner: AcceptanceReport,
    /// Acceptance per queue.
    pub by_queue: AcceptanceReport,
    /// Acceptance per campaign.
    pub by_campaign: AcceptanceReport,
    /// Cycles still undecided past their due time, longest overdue first.
    pub past_due: Vec<PastDueRow>,
    /// The instant "now" figures were evaluated at.
    pub as_of: DateTime<Utc>,
}

/// The same request grouped by `group`.
pub fn regrouped(req: &ReportRequest, group: GroupBy) -> ReportRequest {
    ReportRequest {
        scope: req.scope.clone(),
        group: Some(group),
    }
}

/// Builds the dashboard for `req` (grouped by time; the page defaults to weeks). The reports
/// are independent reads, so they run at once on separate connections.
pub async fn dashboard(
    pool: &PgPool,
    bands: BandLimits,
    req: &ReportRequest,
    now: DateTime<Utc>,
) -> Result<Dashboard> {
    let (acceptance, rejections, sla, recycling, by_fields, past_due) = tokio::try_join!(
        acceptance(pool, bands, req),
        rejections(pool, req),
        sla(pool, req, now),
        recycling(pool, req),
        acceptance_by_fields(pool, bands, req),
        async {
            let rows = db::open_past_due(pool, &req.scope, now, PAST_DUE_LIMIT).await?;
            Ok::<_, crate::service::Error>(rows)
        },
    )?;
    let [by_owner, by_queue, by_campaign] = by_fields;
    Ok(Dashboard {
        acceptance,
        rejections,
        sla,
        recycling,
        by_owner,
        by_queue,
        by_campaign,
        past_due,
        as_of: now,
    })
}
