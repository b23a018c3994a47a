//! Report documents: the rows of `db::metrics` turned into figures with rates, bands, trends,
//! and the empty time buckets filled in. No I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::metrics::{AcceptanceRow, CodeCount, RecyclingRow, SlaRow};
use crate::domain::metrics::{rate, share_rose, Band, BandLimits};

/// What every report says about itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportMeta {
    /// Cycles routed at or after this instant…
    pub from: DateTime<Utc>,
    /// …and before this one.
    pub to: DateTime<Utc>,
    /// IANA zone of day, week and month buckets.
    pub time_zone: String,
    /// `source`, `campaign`, `channel`, `lead_type`, `queue`, `owner`, `day`, `week` or
    /// `month`; null when ungrouped.
    pub group_by: Option<String>,
    /// The filters applied (`source`, `campaign`, …).
    pub filters: BTreeMap<String, String>,
}

/// p50 and p90 in seconds (PostgreSQL `percentile_disc`); null with no data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

impl Percentiles {
    fn from_pair(v: Option<&Vec<f64>>) -> Percentiles {
        match v.map(Vec::as_slice) {
            Some([p50, p90]) => Percentiles {
                p50: Some(*p50),
                p90: Some(*p90),
            },
            _ => Percentiles::default(),
        }
    }
}

/// Groups in report order: every time bucket (empty ones too) when grouped by time, else the
/// keys found, in order with the null key last.
pub fn group_keys<'a, I>(buckets: Option<&[String]>, found: I) -> Vec<Option<String>>
where
    I: IntoIterator<Item = &'a Option<String>>,
{
    match buckets {
        Some(b) => b.iter().cloned().map(Some).collect(),
        None => {
            let set: BTreeSet<Option<String>> = found.into_iter().cloned().collect();
            let (nulls, mut keys): (Vec<_>, Vec<_>) = set.into_iter().partition(Option::is_none);
            keys.extend(nulls);
            keys
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct AcceptanceFigures {
    /// Cycles routed in the period.
    pub routed: i64,
    /// … whose gate decision was an accept, a reject or a recycle; `open` are undecided.
    pub accepted: i64,
    pub rejected: i64,
    pub recycled: i64,
    pub open: i64,
    /// Accepted before the cycle's SLA due time.
    pub accepted_within_sla: i64,
    /// accepted / routed.
    pub acceptance_rate: Option<f64>,
    /// accepted_within_sla / routed.
    pub accepted_within_sla_rate: Option<f64>,
    /// Seconds from routing to the gate decision, over decided cycles.
    pub time_to_decision: Percentiles,
    /// Health of the acceptance rate; null when it is.
    pub band: Option<Band>,
}

impl AcceptanceFigures {
    fn new(r: &AcceptanceRow, bands: &BandLimits) -> Self {
        let acceptance_rate = rate(r.accepted, r.routed);
        AcceptanceFigures {
            routed: r.routed,
            accepted: r.accepted,
            rejected: r.rejected,
            recycled: r.recycled,
            open: r.open,
            accepted_within_sla: r.accepted_within_sla,
            acceptance_rate,
            accepted_within_sla_rate: rate(r.accepted_within_sla, r.routed),
            time_to_decision: Percentiles::from_pair(r.time_to_decision.as_ref()),
            band: acceptance_rate.map(|a| bands.band(a)),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AcceptanceGroup {
    /// The group: a value of the `group_by` field (null for cycles without one), or the first
    /// day (`YYYY-MM-DD`) of a day, week or month.
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: AcceptanceFigures,
}

/// `GET /v1/metrics/acceptance`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AcceptanceReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    /// The band limits in force.
    pub bands: BandLimits,
    pub total: AcceptanceFigures,
    pub groups: Vec<AcceptanceGroup>,
}

pub fn acceptance(
    meta: ReportMeta,
    bands: BandLimits,
    buckets: Option<&[String]>,
    rows: &[AcceptanceRow],
) -> AcceptanceReport {
    let empty = AcceptanceRow {
        key: None,
        total: false,
        routed: 0,
        accepted: 0,
        rejected: 0,
        recycled: 0,
        open: 0,
        accepted_within_sla: 0,
        time_to_decision: None,
    };
    let total = rows.iter().find(|r| r.total).unwrap_or(&empty);
    let by_key: HashMap<&Option<String>, &AcceptanceRow> = rows
        .iter()
        .filter(|r| !r.total)
        .map(|r| (&r.key, r))
        .collect();
    let groups = if meta.group_by.is_none() {
        Vec::new()
    } else {
        group_keys(buckets, by_key.keys().copied())
            .into_iter()
            .map(|key| AcceptanceGroup {
                figures: AcceptanceFigures::new(
                    by_key.get(&key).copied().unwrap_or(&empty),
                    &bands,
                ),
                key,
            })
            .collect()
    };
    AcceptanceReport {
        total: AcceptanceFigures::new(total, &bands),
        meta,
        bands,
        groups,
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CodeShare {
    pub code: String,
    pub count: i64,
    /// count / rejections of the group.
    pub share: Option<f64>,
    /// The code's share in the previous equal period (null when that had no rejections).
    pub previous_share: Option<f64>,
    /// The share rose by 10 points or more against the previous period.
    pub rising: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct RejectionFigures {
    /// Rejected cycles.
    pub rejections: i64,
    /// Rejected cycles in the previous equal period.
    pub previous_rejections: i64,
    /// Every code rejected now or then, most frequent first.
    pub codes: Vec<CodeShare>,
}

impl RejectionFigures {
    pub fn new(current: &BTreeMap<String, i64>, previous: &BTreeMap<String, i64>) -> Self {
        let rejections: i64 = current.values().sum();
        let previous_rejections: i64 = previous.values().sum();
        let mut codes: Vec<CodeShare> = current
            .keys()
            .chain(previous.keys())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|code| {
                let count = current.get(code).copied().unwrap_or(0);
                let share = rate(count, rejections);
                let previous_share = rate(
                    previous.get(code).copied().unwrap_or(0),
                    previous_rejections,
                );
                CodeShare {
                    code: code.clone(),
                    count,
                    share,
                    previous_share,
                    rising: share_rose(previous_share, share),
                }
            })
            .collect();
        codes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
        RejectionFigures {
            rejections,
            previous_rejections,
            codes,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectionGroup {
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: RejectionFigures,
}

/// `GET /v1/metrics/rejections`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectionReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    /// The period the total is compared with: `[previous_from, from)`, as long as the report's.
    pub previous_from: DateTime<Utc>,
    pub total: RejectionFigures,
    /// Grouped by time, each bucket is compared with the one before it (the first with as
    /// long a stretch just before `from`); grouped otherwise, each group with itself in the
    /// previous period.
    pub groups: Vec<RejectionGroup>,
}

/// Counts per key, then per code.
pub type CodeTable = BTreeMap<Option<String>, BTreeMap<String, i64>>;

pub fn code_table(rows: &[CodeCount]) -> CodeTable {
    let mut t = CodeTable::new();
    for r in rows {
        *t.entry(r.key.clone())
            .or_default()
            .entry(r.code.clone())
            .or_default() += r.count;
    }
    t
}

/// Sums a table over its keys.
pub fn code_totals(t: &CodeTable) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for codes in t.values() {
        for (code, n) in codes {
            *out.entry(code.clone()).or_default() += n;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct SlaFigures {
    pub routed: i64,
    /// Cycles whose accept SLA was breached (flagged by the scanner).
    pub breached: i64,
    /// breached / routed.
    pub breach_rate: Option<f64>,
    /// Cycles still undecided past their due time now: silent non-acceptance.
    pub open_past_due: i64,
    /// Accepted cycles first touched by their first-touch due time…
    pub first_touch_met: i64,
    /// …and those touched later, or not yet touched past it.
    pub first_touch_missed: i64,
    /// met / (met + missed).
    pub first_touch_compliance_rate: Option<f64>,
    /// Seconds from routing to the first touch, over touched cycles.
    pub time_to_first_touch: Percentiles,
}

impl From<&SlaRow> for SlaFigures {
    fn from(r: &SlaRow) -> Self {
        SlaFigures {
            routed: r.routed,
            breached: r.breached,
            breach_rate: rate(r.breached, r.routed),
            open_past_due: r.open_past_due,
            first_touch_met: r.first_touch_met,
            first_touch_missed: r.first_touch_missed,
            first_touch_compliance_rate: rate(
                r.first_touch_met,
                r.first_touch_met + r.first_touch_missed,
            ),
            time_to_first_touch: Percentiles::from_pair(r.time_to_first_touch.as_ref()),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaGroup {
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: SlaFigures,
}

/// `GET /v1/metrics/sla`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    /// The instant `open_past_due` and first-touch misses were evaluated at.
    pub as_of: DateTime<Utc>,
    pub total: SlaFigures,
    pub groups: Vec<SlaGroup>,
}

pub fn sla(
    meta: ReportMeta,
    as_of: DateTime<Utc>,
    buckets: Option<&[String]>,
    rows: &[SlaRow],
) -> SlaReport {
    let by_key: HashMap<&Option<String>, &SlaRow> = rows
        .iter()
        .filter(|r| !r.total)
        .map(|r| (&r.key, r))
        .collect();
    let groups = if meta.group_by.is_none() {
        Vec::new()
    } else {
        group_keys(buckets, by_key.keys().copied())
            .into_iter()
            .map(|key| SlaGroup {
                figures: by_key.get(&key).map(|r| (*r).into()).unwrap_or_default(),
                key,
            })
            .collect()
    };
    SlaReport {
        total: rows
            .iter()
            .find(|r| r.total)
            .map(Into::into)
            .unwrap_or_default(),
        meta,
        as_of,
        groups,
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReasonCount {
    pub reason: String,
    pub count: i64,
    /// count / recycled.
    pub share: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct RecyclingFigures {
    pub routed: i64,
    /// Cycles recycled (from routed, or after an accept).
    pub recycled: i64,
    /// recycled / routed.
    pub recycle_rate: Option<f64>,
    /// Recycled cycles whose lead was routed again later.
    pub rerouted: i64,
    /// Recycled cycles whose lead was accepted in a later cycle.
    pub accepted_later: i64,
    /// rerouted / recycled.
    pub reroute_rate: Option<f64>,
    /// accepted_later / recycled: recycle conversion.
    pub recycle_conversion_rate: Option<f64>,
    /// Recycle reasons, most frequent first.
    pub reasons: Vec<ReasonCount>,
}

impl RecyclingFigures {
    fn new(r: Option<&RecyclingRow>, reasons: Option<&BTreeMap<String, i64>>) -> Self {
        let (routed, recycled, rerouted, accepted_later) = r
            .map(|r| (r.routed, r.recycled, r.rerouted, r.accepted_later))
            .unwrap_or_default();
        let mut reasons: Vec<ReasonCount> = reasons
            .into_iter()
            .flatten()
            .map(|(reason, count)| ReasonCount {
                reason: reason.clone(),
                count: *count,
                share: rate(*count, recycled),
            })
            .collect();
        reasons.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        RecyclingFigures {
            routed,
            recycled,
            recycle_rate: rate(recycled, routed),
            rerouted,
            accepted_later,
            reroute_rate: rate(rerouted, recycled),
            recycle_conversion_rate: rate(accepted_later, recycled),
            reasons,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecyclingGroup {
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: RecyclingFigures,
}

/// `GET /v1/metrics/recycling`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecyclingReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    pub total: RecyclingFigures,
    pub groups: Vec<RecyclingGroup>,
}

pub fn recycling(
    meta: ReportMeta,
    buckets: Option<&[String]>,
    rows: &[RecyclingRow],
    reasons: &CodeTable,
) -> RecyclingReport {
    let by_key: HashMap<&Option<String>, &RecyclingRow> = rows
        .iter()
        .filter(|r| !r.total)
        .map(|r| (&r.key, r))
        .collect();
    let groups = if meta.group_by.is_none() {
        Vec::new()
    } else {
        group_keys(buckets, by_key.keys().copied())
            .into_iter()
            .map(|key| RecyclingGroup {
                figures: RecyclingFigures::new(by_key.get(&key).copied(), reasons.get(&key)),
                key,
            })
            .collect()
    };
    let totals = code_totals(reasons);
    RecyclingReport {
        total: RecyclingFigures::new(rows.iter().find(|r| r.total), Some(&totals)),
        meta,
        groups,
    }
}
