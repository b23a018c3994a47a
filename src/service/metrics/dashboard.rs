//! Everything the RevOps dashboard shows, built by the same report functions as
//! `/v1/metrics/*` so that its numbers are the API's: the time-grouped reports (their totals
//! are the headline figures), the acceptance report per rep, queue and campaign, and the
//! cycles open past due now.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    acceptance_report, field_reports, field_specs, recycling_report, rejection_report,
    rejection_specs, scan, sla_report, AcceptanceReport, PastDueRow, RecyclingReport,
    RejectionReport, ReportRequest, SlaReport,
};
use crate::{db::metrics::GroupBy, domain::metrics::BandLimits, service::Result};

/// How many open-past-due cycles the dashboard lists (the count is the SLA report's).
pub const PAST_DUE_LIMIT: usize = 200;

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

/// Builds the dashboard for `req` (grouped by time; the page defaults to weeks): every report
/// and the list of cycles open past due, from one scan of the cycles.
pub async fn dashboard(
    pool: &PgPool,
    bands: BandLimits,
    req: &ReportRequest,
    now: DateTime<Utc>,
) -> Result<Dashboard> {
    let [cur, previous, lead_in] = rejection_specs(req);
    let [owner, queue, campaign] = field_specs(req);
    let cur = super::tally::ViewSpec {
        detail: true,
        ..cur
    };
    let specs = [cur, previous, lead_in, owner, queue, campaign];
    let ([mut cur, previous, lead_in, owner, queue, campaign], (), syms, past_due) = scan(
        pool,
        &req.scope,
        Some(now),
        specs,
        Some(PAST_DUE_LIMIT),
        |_| (),
    )
    .await?;
    let acceptance = acceptance_report(req, bands, &mut cur, &syms);
    let sla = sla_report(req, now, &mut cur, &syms);
    let recycling = recycling_report(req, &mut cur, &syms);
    let [by_owner, by_queue, by_campaign] =
        field_reports(req, bands, [owner, queue, campaign], &syms);
    let rejections = rejection_report(req, [cur, previous, lead_in], &syms);
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
