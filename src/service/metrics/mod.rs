//! The RevOps reports of docs/api.md §6 as use cases: a query read into a typed
//! [`ReportRequest`], then one function per report that reads `db::metrics` and builds its
//! document. The JSON API (`http::metrics`) and the dashboard page (`pages::dashboard`) both
//! call these, so the page shows exactly the numbers the API reports.

mod bound;
pub mod csv;
mod dashboard;
pub mod drivers;
pub mod funnel;
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
        cycle_blocks::{self, FactSink},
        metrics::{CodeCount, GroupBy, Scope},
    },
    domain::metrics::BandLimits,
};
use tally::{Tallies, View, ViewSpec};

mod past_due;
mod tally;

pub use past_due::PastDueRow;

/// Reads the cycles of every view's period in one scan and counts them into `N` views.
async fn tally<const N: usize>(
    pool: &PgPool,
    scope: &Scope,
    now: Option<DateTime<Utc>>,
    specs: [ViewSpec; N],
) -> Result<([View; N], cycle_blocks::Symbols)> {
    let (views, (), syms, _) = scan(pool, scope, now, specs, None, |_| ()).await?;
    Ok((views, syms))
}

/// [`tally`] without `now`, the same cycles also handed to the sink `extra` builds (the
/// funnel's outcomes).
async fn tally_with<const N: usize, X: FactSink>(
    pool: &PgPool,
    scope: &Scope,
    specs: [ViewSpec; N],
    extra: impl FnOnce(&mut cycle_blocks::Symbols) -> X,
) -> Result<([View; N], X, cycle_blocks::Symbols)> {
    let (views, x, syms, _) = scan(pool, scope, None, specs, None, extra).await?;
    Ok((views, x, syms))
}

/// [`tally_with`], and with `past_due` (and `now`) also the list of up to that many cycles of
/// the scope open past due.
async fn scan<const N: usize, X: FactSink>(
    pool: &PgPool,
    scope: &Scope,
    now: Option<DateTime<Utc>>,
    specs: [ViewSpec; N],
    past_due: Option<usize>,
    extra: impl FnOnce(&mut cycle_blocks::Symbols) -> X,
) -> Result<([View; N], X, cycle_blocks::Symbols, Vec<PastDueRow>)> {
    let from = specs.iter().map(|s| s.from).min().unwrap_or(scope.from);
    let to = specs.iter().map(|s| s.to).max().unwrap_or(scope.to);
    let ((tallies, x), syms) = cycle_blocks::scan(pool, from, to, false, |syms| {
        let t = Tallies::new(syms, scope, now, &specs);
        let t = match past_due {
            Some(limit) => t.with_past_due(scope, limit),
            None => t,
        };
        (t, extra(syms))
    })
    .await?;
    let (views, list) = tallies.into_parts();
    let views = <[View; N]>::try_from(views)
        .map_err(|_| anyhow::anyhow!("a scan gave back another number of views"))?;
    let list = list.map(|l| l.into_rows(&syms)).unwrap_or_default();
    Ok((views, x, syms, list))
}

/// Up to `limit` cycles of `req`'s scope still undecided past their due time at `now`,
/// longest overdue first (the SLA report counts them all).
pub async fn past_due(
    pool: &PgPool,
    req: &ReportRequest,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<PastDueRow>> {
    let ([], (), _, list) = scan(pool, &req.scope, Some(now), [], Some(limit), |_| ()).await?;
    Ok(list)
}

/// The report's own period, grouped by `group`.
fn current(req: &ReportRequest, group: Option<GroupBy>, detail: bool) -> ViewSpec {
    ViewSpec {
        from: req.scope.from,
        to: req.scope.to,
        group,
        detail,
    }
}

/// The acceptance report.
pub async fn acceptance(
    pool: &PgPool,
    bands: BandLimits,
    req: &ReportRequest,
) -> Result<AcceptanceReport> {
    // Grouped, the same scan counts the SQLs the band's evidence needs.
    let ([mut view], sqls, syms) =
        tally_with(pool, &req.scope, [current(req, req.group, true)], |syms| {
            let spec = current(req, req.group, false);
            req.group
                .is_some()
                .then(|| funnel::SqlSink::new(syms, &req.scope, spec))
        })
        .await?;
    let mut r = acceptance_report(req, bands, &mut view, &syms);
    if let Some(sqls) = sqls {
        funnel::add_band_evidence(sqls, &syms, &mut r);
    }
    r.meta.account_names = account_names(pool, req, r.groups.iter().map(|g| &g.key)).await?;
    Ok(r)
}

/// Grouped by account: the name of each account a group is keyed by (none otherwise).
async fn account_names<'a>(
    pool: &PgPool,
    req: &ReportRequest,
    keys: impl Iterator<Item = &'a Option<String>>,
) -> Result<BTreeMap<String, String>> {
    if req.group != Some(GroupBy::Account) {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<uuid::Uuid> = keys.flatten().filter_map(|k| k.parse().ok()).collect();
    let names = crate::db::accounts::names(pool, &ids).await?;
    Ok(names
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect())
}

fn acceptance_report(
    req: &ReportRequest,
    bands: BandLimits,
    view: &mut View,
    syms: &cycle_blocks::Symbols,
) -> AcceptanceReport {
    let buckets = req.buckets();
    report::acceptance(
        req.meta(),
        bands,
        buckets.as_deref(),
        &view.acceptance_rows(syms),
    )
}

/// The acceptance report grouped by owner, by queue and by campaign: what [`acceptance`]
/// gives for each of those groupings of `req`, from one scan of the cycles.
pub async fn acceptance_by_fields(
    pool: &PgPool,
    bands: BandLimits,
    req: &ReportRequest,
) -> Result<[AcceptanceReport; 3]> {
    let (views, syms) = tally(pool, &req.scope, None, field_specs(req)).await?;
    Ok(field_reports(req, bands, views, &syms))
}

const FIELDS: [GroupBy; 3] = [GroupBy::Owner, GroupBy::Queue, GroupBy::Campaign];

fn field_specs(req: &ReportRequest) -> [ViewSpec; 3] {
    FIELDS.map(|g| current(req, Some(g), true))
}

fn field_reports(
    req: &ReportRequest,
    bands: BandLimits,
    views: [View; 3],
    syms: &cycle_blocks::Symbols,
) -> [AcceptanceReport; 3] {
    let mut views = views;
    std::array::from_fn(|i| {
        acceptance_report(&regrouped(req, FIELDS[i]), bands, &mut views[i], syms)
    })
}

/// The periods the rejection report compares: its own (grouped), the previous equal one
/// (grouped the same way unless by time: then only its total counts), and, grouped by time,
/// the stretch before `from` as long as the first bucket (the first bucket's "before").
fn rejection_specs(req: &ReportRequest) -> [ViewSpec; 3] {
    let s = &req.scope;
    let previous_from = s.from - (s.to - s.from);
    let by_time = matches!(req.group, Some(GroupBy::Time(_)));
    let first_end = req
        .bucket_starts()
        .and_then(|starts| starts.get(1).copied())
        .map_or(s.to, |t| t.min(s.to));
    let lead_in_from = if by_time {
        s.from - (first_end - s.from)
    } else {
        s.from
    };
    [
        current(req, req.group, false),
        ViewSpec {
            from: previous_from,
            to: s.from,
            group: if by_time { None } else { req.group },
            detail: false,
        },
        ViewSpec {
            from: lead_in_from,
            to: s.from,
            group: None,
            detail: false,
        },
    ]
}

/// The rejection report: each code against the previous equal period.
pub async fn rejections(pool: &PgPool, req: &ReportRequest) -> Result<RejectionReport> {
    let (views, syms) = tally(pool, &req.scope, None, rejection_specs(req)).await?;
    let mut r = rejection_report(req, views, &syms);
    r.meta.account_names = account_names(pool, req, r.groups.iter().map(|g| &g.key)).await?;
    Ok(r)
}

fn rejection_report(
    req: &ReportRequest,
    [mut current, mut before, mut lead_in]: [View; 3],
    syms: &cycle_blocks::Symbols,
) -> RejectionReport {
    let table = |rows: Vec<CodeCount>| report::code_table(&rows);
    let current = table(current.rejection_counts(syms));
    let before = table(before.rejection_counts(syms));
    let total = RejectionFigures::new(
        &report::code_totals(&current),
        &report::code_totals(&before),
    );
    let empty = BTreeMap::new();
    let groups = match (req.group, req.buckets()) {
        (Some(GroupBy::Time(_)), Some(buckets)) => {
            let lead_in = report::code_totals(&table(lead_in.rejection_counts(syms)));
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
            out
        }
        (Some(_), _) => report::group_keys(None, current.keys())
            .into_iter()
            .map(|key| RejectionGroup {
                figures: RejectionFigures::new(
                    current.get(&key).unwrap_or(&empty),
                    before.get(&key).unwrap_or(&empty),
                ),
                key,
            })
            .collect(),
        (None, _) => Vec::new(),
    };
    RejectionReport {
        meta: req.meta(),
        previous_from: req.scope.from - (req.scope.to - req.scope.from),
        total,
        groups,
    }
}

/// The SLA report, open past due and first-touch misses evaluated at `now`.
pub async fn sla(pool: &PgPool, req: &ReportRequest, now: DateTime<Utc>) -> Result<SlaReport> {
    let ([mut view], syms) =
        tally(pool, &req.scope, Some(now), [current(req, req.group, true)]).await?;
    let mut r = sla_report(req, now, &mut view, &syms);
    r.meta.account_names = account_names(pool, req, r.groups.iter().map(|g| &g.key)).await?;
    Ok(r)
}

fn sla_report(
    req: &ReportRequest,
    now: DateTime<Utc>,
    view: &mut View,
    syms: &cycle_blocks::Symbols,
) -> SlaReport {
    let buckets = req.buckets();
    report::sla(req.meta(), now, buckets.as_deref(), &view.sla_rows(syms))
}

/// The recycling report: recycle conversion and reasons.
pub async fn recycling(pool: &PgPool, req: &ReportRequest) -> Result<RecyclingReport> {
    let ([mut view], syms) =
        tally(pool, &req.scope, None, [current(req, req.group, false)]).await?;
    let mut r = recycling_report(req, &mut view, &syms);
    r.meta.account_names = account_names(pool, req, r.groups.iter().map(|g| &g.key)).await?;
    Ok(r)
}

fn recycling_report(
    req: &ReportRequest,
    view: &mut View,
    syms: &cycle_blocks::Symbols,
) -> RecyclingReport {
    let reasons = report::code_table(&view.reason_counts(syms));
    let buckets = req.buckets();
    report::recycling(
        req.meta(),
        buckets.as_deref(),
        &view.recycling_rows(syms),
        &reasons,
    )
}
