//! The funnel report's use case (docs/api.md "Funnel"): routed and accepted counted by the
//! scan like the acceptance report, then the period's accepted cycles with outcomes, filtered
//! and grouped by the same rules (`tally::grouping`), folded into stages, times and amounts.
//! The outcome cycles are read right after the scan, in a snapshot of their own.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    current,
    report::{self, stage_index, AcceptanceReport, FunnelReport, FunnelRow},
    tally,
    tally::grouping::{Grouping, Placed},
    ReportRequest,
};
use crate::{
    db::{
        campaigns,
        cycle_blocks::Symbols,
        metrics::GroupBy,
        outcomes::{self, OutcomeCycle},
    },
    domain::{
        band_evidence::evidence,
        body::{Check, Field},
        cycle_facts::DIMS,
        outcome::{opt_currency, OutcomeKind, Stage},
        spend::{prorate, Spend},
        validation::FieldError,
    },
    service::Result,
};

/// A funnel request: the reports' query, and the currency amounts are summed in.
#[derive(Debug, Clone)]
pub struct FunnelRequest {
    pub report: ReportRequest,
    pub currency: Option<String>,
}

/// The funnel's own parameter besides the reports' ones.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// ISO 4217 code amounts are summed in. Default: the most common currency of the period's
    /// opportunity and won amounts.
    #[param(value_type = Option<String>, pattern = r"^[A-Z]{3}$")]
    pub currency: Field,
}

impl FunnelRequest {
    /// The reports' parameters read as every report reads them, and `currency`; every bad
    /// parameter named at once.
    pub fn read(
        params: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<FunnelRequest, Vec<FieldError>> {
        let mut rest = params.clone();
        let currency = rest.remove("currency");
        let mut f = Check::with_unknown(Vec::new());
        let value = currency.map(serde_json::Value::String);
        let currency = opt_currency(&mut f, "currency", Field::from(value.as_ref()));
        let mut errors = f.finish();
        match ReportRequest::read(&rest, now) {
            Ok(report) if errors.is_empty() => Ok(FunnelRequest { report, currency }),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                Err(errors)
            }
        }
    }
}

/// The funnel report.
pub async fn funnel(pool: &PgPool, req: &FunnelRequest) -> Result<FunnelReport> {
    let r = &req.report;
    let spec = current(r, r.group, false);
    let ([mut view], mut syms) = tally(pool, &r.scope, None, [spec]).await?;
    let mut folded = outcome_rows(pool, r, &mut syms, req.currency.clone()).await?;
    for a in view.acceptance_rows(&syms) {
        let row = if a.total {
            &mut folded.total
        } else {
            folded.groups.entry(a.key.clone()).or_default()
        };
        row.key = a.key;
        row.routed = a.routed;
        row.accepted = a.accepted;
    }
    let mut rows: Vec<FunnelRow> = folded.groups.into_values().collect();
    folded.total.total = true;
    rows.push(folded.total);
    if campaign_of(r) {
        let spend = campaigns::all_spend(pool).await?;
        add_spend(r, &spend, &mut rows);
    }
    let buckets = r.buckets();
    Ok(report::funnel(
        r.meta(),
        folded.currency,
        buckets.as_deref(),
        &mut rows,
    ))
}

/// The outcome figures of a request's accepted cycles: per group, the total, and the
/// currency they were summed in. Routed and accepted are left for the caller (they come from
/// the scan).
pub struct OutcomeRows {
    pub groups: BTreeMap<Option<String>, FunnelRow>,
    pub total: FunnelRow,
    pub currency: Option<String>,
}

/// Reads and folds the outcomes of `req`'s accepted cycles.
pub async fn outcome_rows(
    pool: &PgPool,
    req: &ReportRequest,
    syms: &mut Symbols,
    currency: Option<String>,
) -> Result<OutcomeRows> {
    let cycles = outcomes::accepted_cycles(pool, req.scope.from, req.scope.to).await?;
    let mut grouping = Grouping::new(syms, &req.scope, current(req, req.group, false));
    let grouped = req.group.is_some();
    let placed: Vec<(Option<u32>, &OutcomeCycle)> = cycles
        .iter()
        .filter_map(
            |c| match grouping.key(c.routed_at, dims(syms, c), c.decided_by_rule) {
                Placed::Out => None,
                Placed::In(k) => Some((k, c)),
            },
        )
        .collect();
    let currency = currency.or_else(|| most_common_currency(placed.iter().map(|(_, c)| *c)));
    let mut out = OutcomeRows {
        groups: BTreeMap::new(),
        total: FunnelRow::default(),
        currency,
    };
    for (k, c) in placed {
        let cur = out.currency.as_deref();
        fold(&mut out.total, c, cur);
        if let (true, Some(k)) = (grouped, k) {
            let key = grouping.name(k, syms);
            let row = out.groups.entry(key.clone()).or_default();
            row.key = key;
            fold(row, c, cur);
        }
    }
    Ok(out)
}

fn dims(syms: &mut Symbols, c: &OutcomeCycle) -> [u32; DIMS] {
    [
        syms.intern(Some(&c.source)),
        syms.intern(c.campaign.as_deref()),
        syms.intern(c.channel.as_deref()),
        syms.intern(Some(&c.lead_type)),
        syms.intern(c.queue.as_deref()),
        syms.intern(c.owner.as_deref()),
        syms.intern(c.account.as_deref()),
    ]
}

/// The currency of most opportunity and won amounts (the first by name on a tie).
fn most_common_currency<'a>(cycles: impl Iterator<Item = &'a OutcomeCycle>) -> Option<String> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for c in cycles {
        for (kind, cur) in c.kinds.iter().zip(&c.currencies) {
            if let (Some(cur), true) = (cur, kind == "opportunity" || kind == "won") {
                *counts.entry(cur.as_str()).or_default() += 1;
            }
        }
    }
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(c, _)| c.to_string())
}

/// Adds one accepted cycle's outcomes to `row`: the furthest stage it proved (and so every
/// stage before it), the first time each stage was proved, from acceptance (an outcome logged
/// before the acceptance counts as 0 s), and its amounts in `currency`.
fn fold(row: &mut FunnelRow, c: &OutcomeCycle, currency: Option<&str>) {
    let mut first: [Option<DateTime<Utc>>; 4] = [None; 4];
    let mut lost = false;
    for (i, kind) in c.kinds.iter().enumerate() {
        let Some(kind) = OutcomeKind::parse(kind) else {
            continue;
        };
        let at = c.ats[i];
        match kind.stage() {
            Some(stage) => {
                for s in Stage::ALL.into_iter().filter(|s| *s <= stage) {
                    let f = &mut first[stage_index(s)];
                    *f = Some(f.map_or(at, |t| t.min(at)));
                }
            }
            None => lost = true,
        }
        if let (Some(amount), Some(cur)) = (c.amounts[i], &c.currencies[i]) {
            let summed = matches!(kind, OutcomeKind::Opportunity | OutcomeKind::Won);
            if summed && Some(cur.as_str()) != currency {
                row.other_currency += 1;
            } else if kind == OutcomeKind::Opportunity {
                row.pipeline += amount;
            } else if kind == OutcomeKind::Won {
                row.won_amount += amount;
            }
        }
    }
    row.lost += i64::from(lost);
    for (i, at) in first.into_iter().enumerate() {
        if let Some(at) = at {
            row.stages[i] += 1;
            let from = c.decided_at.unwrap_or(c.routed_at);
            let s = (at - from).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
            row.stage_s[i].push(s);
        }
    }
}

/// Adds each group's band evidence (`domain::band_evidence`) to a grouped acceptance report (ungrouped, there is no
/// group to compare with the period).
pub async fn add_band_evidence(
    pool: &PgPool,
    req: &ReportRequest,
    syms: &mut Symbols,
    report: &mut AcceptanceReport,
) -> Result<()> {
    if req.group.is_none() {
        return Ok(());
    }
    let rows = outcome_rows(pool, req, syms, None).await?;
    let sql = |r: &FunnelRow| r.stages[stage_index(Stage::Sql)];
    let (period_accepted, period_sql) = (report.total.accepted, sql(&rows.total));
    for g in &mut report.groups {
        let group_sql = rows.groups.get(&g.key).map_or(0, sql);
        let f = &g.figures;
        g.band_evidence = evidence(f.band, f.accepted, group_sql, period_accepted, period_sql);
    }
    Ok(())
}

/// Whether a request's groups are campaigns, or its period one campaign's.
fn campaign_of(req: &ReportRequest) -> bool {
    req.group == Some(GroupBy::Campaign) || req.scope.campaign.is_some()
}

/// Gives each row whose leads one campaign paid for that campaign's spend over the row's
/// period: grouped by campaign, each group over the report's period; filtered by a campaign,
/// the total, and each time bucket over its own part of the period. Other rows (a campaign
/// filter grouped by owner, say) have no cost: spend is not known per owner.
fn add_spend(req: &ReportRequest, spend: &[(String, Spend)], rows: &mut [FunnelRow]) {
    let s = &req.scope;
    let of = |id: &str| spend.iter().find(|(c, _)| c == id).map(|(_, sp)| sp);
    let over = |sp: &Spend, from, to| (prorate(&sp.months, from, to, s.tz), sp.currency.clone());
    let buckets: Vec<(String, DateTime<Utc>, DateTime<Utc>)> =
        match (req.buckets(), req.bucket_starts()) {
            (Some(keys), Some(starts)) => {
                let ends = starts.iter().skip(1).copied().chain([s.to]);
                keys.into_iter()
                    .zip(starts.iter().copied().zip(ends))
                    .map(|(k, (a, b))| (k, a.max(s.from), b.min(s.to)))
                    .collect()
            }
            _ => Vec::new(),
        };
    for row in rows.iter_mut() {
        row.spend = match (&s.campaign, req.group, row.total) {
            (Some(c), _, true) => of(c).map(|sp| over(sp, s.from, s.to)),
            (_, Some(GroupBy::Campaign), false) => row
                .key
                .as_deref()
                .and_then(of)
                .map(|sp| over(sp, s.from, s.to)),
            (Some(c), Some(GroupBy::Time(_)), false) => of(c).and_then(|sp| {
                let (_, a, b) = buckets
                    .iter()
                    .find(|(k, _, _)| Some(k) == row.key.as_ref())?;
                Some(over(sp, *a, *b))
            }),
            _ => None,
        };
    }
}
