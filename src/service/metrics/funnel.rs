//! The funnel report's use case (docs/api.md "Funnel"): routed and accepted counted by the
//! scan like the acceptance report, and, from the same scan, the period's accepted cycles with
//! outcomes, filtered and grouped by the same rules (`tally::grouping`), folded into stages,
//! times and amounts.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::{
    current,
    report::{self, stage_index, AcceptanceReport, FunnelReport, FunnelRow},
    tally::grouping::{Grouping, Placed},
    tally::ViewSpec,
    tally_with, ReportRequest,
};
use crate::{
    db::{
        campaigns,
        cycle_blocks::{FactSink, Symbols},
        metrics::{GroupBy, Scope},
    },
    domain::{
        band_evidence::evidence,
        body::{Check, Field},
        cycle_facts::{CycleFact, Outcome, OutcomeFact, Sym},
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
    let ([mut view], outcomes, mut syms) = tally_with(pool, &r.scope, [spec], |syms| {
        OutcomeSink::new(syms, &r.scope, spec)
    })
    .await?;
    let mut folded = outcome_rows(outcomes, &mut syms, req.currency.as_deref());
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

/// An accepted cycle with outcomes, as [`OutcomeSink`] keeps it.
struct OutcomeCycle {
    routed_at: i64,
    decided_at: Option<i64>,
    outcomes: Vec<OutcomeFact>,
}

/// Keeps, from a scan, the accepted cycles with outcomes that a view's filters keep, with
/// their group keys (the same filter test and keys as the view's tallies: `tally::grouping`).
pub struct OutcomeSink {
    grouping: Grouping,
    grouped: bool,
    placed: Vec<(Option<u32>, OutcomeCycle)>,
}

impl OutcomeSink {
    pub fn new(syms: &mut Symbols, scope: &Scope, spec: ViewSpec) -> OutcomeSink {
        OutcomeSink {
            grouping: Grouping::new(syms, scope, spec),
            grouped: spec.group.is_some(),
            placed: Vec::new(),
        }
    }
}

impl FactSink for OutcomeSink {
    fn fact(&mut self, c: &CycleFact) {
        if c.outcome != Outcome::Accepted || c.outcomes.is_empty() {
            return;
        }
        if let Placed::In(k) = self.grouping.key(c.routed_at, c.dims, c.decided_by_rule) {
            let cycle = OutcomeCycle {
                routed_at: c.routed_at,
                decided_at: c.decided_at,
                outcomes: c.outcomes.clone(),
            };
            self.placed.push((k, cycle));
        }
    }
}

/// The outcome figures of a request's accepted cycles: per group, the total, and the
/// currency they were summed in. Routed and accepted are left for the caller (they come from
/// the tallies).
pub struct OutcomeRows {
    pub groups: BTreeMap<Option<String>, FunnelRow>,
    pub total: FunnelRow,
    pub currency: Option<String>,
}

/// Folds the outcomes a sink kept, amounts summed in `currency` (default: the most common).
fn outcome_rows(sink: OutcomeSink, syms: &mut Symbols, currency: Option<&str>) -> OutcomeRows {
    let currency = match currency {
        Some(c) => Some(syms.intern(Some(c))),
        None => most_common_currency(sink.placed.iter().map(|(_, c)| c), syms),
    };
    let mut out = OutcomeRows {
        groups: BTreeMap::new(),
        total: FunnelRow::default(),
        currency: currency.and_then(|c| syms.name(c)).map(str::to_owned),
    };
    for (k, c) in &sink.placed {
        fold(&mut out.total, c, currency);
        if let (true, Some(k)) = (sink.grouped, k) {
            let key = sink.grouping.name(*k, syms);
            let row = out.groups.entry(key.clone()).or_default();
            row.key = key;
            fold(row, c, currency);
        }
    }
    out
}

/// The currency of most opportunity and won amounts (the first by name on a tie).
fn most_common_currency<'a>(
    cycles: impl Iterator<Item = &'a OutcomeCycle>,
    syms: &Symbols,
) -> Option<Sym> {
    let mut counts: BTreeMap<&str, (i64, Sym)> = BTreeMap::new();
    for o in cycles.flat_map(|c| &c.outcomes) {
        if let (Some((_, cur)), true) = (o.amount, summed(o.kind)) {
            let name = syms.name(cur).unwrap_or_default();
            counts.entry(name).or_insert((0, cur)).0 += 1;
        }
    }
    let best = counts.values().map(|(n, _)| *n).max()?;
    counts
        .into_values()
        .find(|(n, _)| *n == best)
        .map(|(_, s)| s)
}

/// The kinds whose amounts the funnel sums.
fn summed(kind: OutcomeKind) -> bool {
    matches!(kind, OutcomeKind::Opportunity | OutcomeKind::Won)
}

/// Adds one accepted cycle's outcomes to `row`: the furthest stage it proved (and so every
/// stage before it), the first time each stage was proved, from acceptance (an outcome logged
/// before the acceptance counts as 0 s), and its amounts in `currency`.
fn fold(row: &mut FunnelRow, c: &OutcomeCycle, currency: Option<Sym>) {
    let mut first: [Option<i64>; 4] = [None; 4];
    let mut lost = false;
    for o in &c.outcomes {
        match o.kind.stage() {
            Some(stage) => {
                for s in Stage::ALL.into_iter().filter(|s| *s <= stage) {
                    let f = &mut first[stage_index(s)];
                    *f = Some(f.map_or(o.at, |t| t.min(o.at)));
                }
            }
            None => lost = true,
        }
        if let Some((amount, cur)) = o.amount {
            if summed(o.kind) && Some(cur) != currency {
                row.other_currency += 1;
            } else if o.kind == OutcomeKind::Opportunity {
                row.pipeline += amount;
            } else if o.kind == OutcomeKind::Won {
                row.won_amount += amount;
            }
        }
    }
    row.lost += i64::from(lost);
    for (i, at) in first.into_iter().enumerate() {
        if let Some(at) = at {
            row.stages[i] += 1;
            let from = c.decided_at.unwrap_or(c.routed_at);
            row.stage_s[i].push((at - from).max(0) as f64 / 1e6);
        }
    }
}

/// Counts, from a scan, the accepted cycles that reached SQL (an outcome proving SQL or a later
/// stage), in total and per group of a view: the band evidence's figure, without keeping the
/// cycles.
pub struct SqlSink {
    grouping: Grouping,
    total: i64,
    groups: BTreeMap<u32, i64>,
}

impl SqlSink {
    pub fn new(syms: &mut Symbols, scope: &Scope, spec: ViewSpec) -> SqlSink {
        SqlSink {
            grouping: Grouping::new(syms, scope, spec),
            total: 0,
            groups: BTreeMap::new(),
        }
    }
}

impl FactSink for SqlSink {
    fn fact(&mut self, c: &CycleFact) {
        let sql = |o: &OutcomeFact| o.kind.stage().is_some_and(|s| s >= Stage::Sql);
        if c.outcome != Outcome::Accepted || !c.outcomes.iter().any(sql) {
            return;
        }
        if let Placed::In(k) = self.grouping.key(c.routed_at, c.dims, c.decided_by_rule) {
            self.total += 1;
            if let Some(k) = k {
                *self.groups.entry(k).or_default() += 1;
            }
        }
    }
}

/// Adds each group's band evidence (`domain::band_evidence`) to a grouped acceptance report,
/// from the SQL counts its scan made.
pub fn add_band_evidence(sink: SqlSink, syms: &Symbols, report: &mut AcceptanceReport) {
    let by_key: BTreeMap<Option<String>, i64> = sink
        .groups
        .iter()
        .map(|(k, n)| (sink.grouping.name(*k, syms), *n))
        .collect();
    let (period_accepted, period_sql) = (report.total.accepted, sink.total);
    for g in &mut report.groups {
        let group_sql = by_key.get(&g.key).copied().unwrap_or(0);
        let f = &g.figures;
        g.band_evidence = evidence(f.band, f.accepted, group_sql, period_accepted, period_sql);
    }
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
