//! The RevOps reports of docs/api.md §6 as use cases: a query read into a typed
//! [`ReportRequest`], then one function per report that reads `db::metrics` and builds its
//! document. The JSON API (`http::metrics`) and the dashboard page (`pages::dashboard`) both
//! call these, so the page shows exactly the numbers the API reports.

mod bound;
pub mod csv;
mod dashboard;
mod query;
pub mod report;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

pub use dashboard::{dashboard, regrouped, Dashboard, PAST_DUE_LIMIT};
pub use query::{ReportQuery, ReportRequest, MAX_RANGE_DAYS};
pub use report::{
    AcceptanceReport, CodeTable, RecyclingReport, RejectionFigures, RejectionGroup,
    RejectionReport, SlaReport,
};

use super::Result;
use crate::{
    db::{
        cycle_hours,
        metrics::{self as db, GroupBy},
    },
    domain::metrics::BandLimits,
};

/// The acceptance report: from compacted hours when it can be, else from the cycles.
pub async fn acceptance(
    pool: &PgPool,
    bands: BandLimits,
    req: &ReportRequest,
) -> Result<AcceptanceReport> {
    let buckets = req.buckets();
    let rows = match compacted_acceptance(pool, req, buckets.as_deref()).await? {
        Some(rows) => rows,
        None => db::acceptance(pool, &req.scope, req.group).await?,
    };
    Ok(report::acceptance(
        req.meta(),
        bands,
        buckets.as_deref(),
        &rows,
    ))
}

/// The acceptance report grouped by owner, by queue and by campaign: what [`acceptance`]
/// gives for each of those groupings of `req`, from one scan of the cycles.
pub async fn acceptance_by_fields(
    pool: &PgPool,
    bands: BandLimits,
    req: &ReportRequest,
) -> Result<[AcceptanceReport; 3]> {
    let [owner, queue, campaign] = db::acceptance_by_fields(pool, &req.scope).await?;
    let build = |group, rows: &[db::AcceptanceRow]| {
        report::acceptance(regrouped(req, group).meta(), bands, None, rows)
    };
    Ok([
        build(GroupBy::Owner, &owner),
        build(GroupBy::Queue, &queue),
        build(GroupBy::Campaign, &campaign),
    ])
}

/// The unfiltered acceptance report, ungrouped or by time, from compacted hours (see
/// `db::cycle_hours`); `None` when it cannot be: filters, grouping by a field, buckets that do
/// not start on whole UTC hours (zones offset by :30 or :45), or a period under an hour.
async fn compacted_acceptance(
    pool: &PgPool,
    req: &ReportRequest,
    buckets: Option<&[String]>,
) -> Result<Option<Vec<db::AcceptanceRow>>> {
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
    let Some(pieces) = cycle_hours::pieces(pool, s.from, s.to).await? else {
        return Ok(None);
    };
    let keys = buckets.zip(starts.as_deref());
    Ok(Some(cycle_hours::fold(&pieces, keys)))
}

/// The rejection report: each code against the previous equal period.
pub async fn rejections(pool: &PgPool, req: &ReportRequest) -> Result<RejectionReport> {
    let scope = &req.scope;
    let previous_from = scope.from - (scope.to - scope.from);
    let previous = scope.with_range(previous_from, scope.from);
    // Independent reads: at once, on separate connections.
    let (current, before) = tokio::try_join!(
        db::rejections(pool, scope, req.group),
        db::rejections(pool, &previous, req.group)
    )?;
    let (current, before) = (report::code_table(&current), report::code_table(&before));
    let total = RejectionFigures::new(
        &report::code_totals(&current),
        &report::code_totals(&before),
    );
    let groups = match (req.group, req.buckets()) {
        (Some(GroupBy::Time(_)), Some(buckets)) => {
            rejection_time_groups(pool, req, &current, buckets).await?
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
    Ok(RejectionReport {
        meta: req.meta(),
        previous_from,
        total,
        groups,
    })
}

/// Time buckets of the rejection report: each against the one before; the first against as
/// long a stretch just before `from` (buckets are cut by the period's ends).
async fn rejection_time_groups(
    pool: &PgPool,
    req: &ReportRequest,
    current: &CodeTable,
    buckets: Vec<String>,
) -> Result<Vec<RejectionGroup>> {
    let scope = &req.scope;
    let first_end = req
        .bucket_starts()
        .and_then(|starts| starts.get(1).copied())
        .map_or(scope.to, |t| t.min(scope.to));
    let lead_in = scope.with_range(scope.from - (first_end - scope.from), scope.from);
    let lead_in = report::code_totals(&report::code_table(
        &db::rejections(pool, &lead_in, None).await?,
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

/// The SLA report, open past due and first-touch misses evaluated at `now`.
pub async fn sla(pool: &PgPool, req: &ReportRequest, now: DateTime<Utc>) -> Result<SlaReport> {
    let rows = db::sla(pool, &req.scope, req.group, now).await?;
    let buckets = req.buckets();
    Ok(report::sla(req.meta(), now, buckets.as_deref(), &rows))
}

/// The recycling report: recycle conversion and reasons.
pub async fn recycling(pool: &PgPool, req: &ReportRequest) -> Result<RecyclingReport> {
    let rows = db::recycling(pool, &req.scope, req.group).await?;
    let reasons = report::code_table(&db::recycle_reasons(pool, &req.scope, req.group).await?);
    let buckets = req.buckets();
    Ok(report::recycling(
        req.meta(),
        buckets.as_deref(),
        &rows,
        &reasons,
    ))
}
