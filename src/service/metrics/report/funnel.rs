//! The funnel report: routed → accepted → meeting → SQL → opportunity → won, each stage's
//! rates, pipeline per accepted lead, time from acceptance to each stage, and, where a
//! campaign's spend is known, cost per lead. No I/O.

use serde::Serialize;
use utoipa::ToSchema;

use super::{groups, total_row, KeyedRow, Percentiles, ReportMeta};
use crate::domain::{
    metrics::{percentile_disc_select, rate},
    outcome::Stage,
};

/// One group's counts, as the use case folds them (or the total's).
#[derive(Debug, Clone, Default)]
pub struct FunnelRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub accepted: i64,
    /// Accepted cycles that reached each [`Stage`] (in `Stage::ALL` order).
    pub stages: [i64; 4],
    /// Accepted cycles with a `lost` outcome.
    pub lost: i64,
    /// Seconds from acceptance to each stage, per cycle that reached it.
    pub stage_s: [Vec<f64>; 4],
    /// Opportunity amounts in the report's currency.
    pub pipeline: f64,
    /// Won amounts in the report's currency.
    pub won_amount: f64,
    /// Opportunity and won outcomes whose amount is in another currency (left out).
    pub other_currency: i64,
    /// The group's share of a campaign's spend, when known.
    pub spend: Option<(f64, String)>,
}

impl KeyedRow for FunnelRow {
    fn key(&self) -> &Option<String> {
        &self.key
    }
    fn is_total(&self) -> bool {
        self.total
    }
}

/// A stage's count against the stage before it and against routed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct StageRate {
    /// This stage / the previous stage (accepted: / routed).
    pub of_previous: Option<f64>,
    /// This stage / routed.
    pub of_routed: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StageRates {
    pub accepted: StageRate,
    pub meeting: StageRate,
    pub sql: StageRate,
    pub opportunity: StageRate,
    pub won: StageRate,
}

/// Seconds from acceptance to the first outcome proving each stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct StageTimes {
    pub meeting: Percentiles,
    pub sql: Percentiles,
    pub opportunity: Percentiles,
    pub won: Percentiles,
}

/// Spend over the group's period and what it cost per lead, in the campaign's currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CostFigures {
    /// The campaign's monthly spend prorated to the period by days.
    pub spend: f64,
    pub currency: String,
    pub per_routed: Option<f64>,
    pub per_accepted: Option<f64>,
    pub per_sql: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct FunnelFigures {
    pub routed: i64,
    pub accepted: i64,
    /// Accepted cycles with a meeting (booked or held) or any later stage.
    pub meeting: i64,
    /// … with an SQL, opportunity or won outcome.
    pub sql: i64,
    /// … with an opportunity or won outcome.
    pub opportunity: i64,
    pub won: i64,
    /// Accepted cycles with a `lost` outcome.
    pub lost: i64,
    pub rates: StageRates,
    /// Sum of opportunity amounts in the report's currency (null without one).
    pub pipeline_amount: Option<f64>,
    /// pipeline_amount / accepted.
    pub pipeline_per_accepted: Option<f64>,
    /// Sum of won amounts in the report's currency.
    pub won_amount: Option<f64>,
    /// Opportunity and won amounts in another currency, not summed.
    pub other_currency_amounts: i64,
    pub time_from_acceptance: StageTimes,
    /// Null unless the group's campaign spend is known (see docs/api.md).
    pub cost: Option<CostFigures>,
}

/// Money rounded to the cent.
fn cents(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn per(amount: f64, n: i64) -> Option<f64> {
    (n > 0).then(|| cents(amount / n as f64))
}

fn percentiles(values: &mut [f64]) -> Percentiles {
    Percentiles {
        p50: percentile_disc_select(values, 0.5),
        p90: percentile_disc_select(values, 0.9),
    }
}

impl FunnelFigures {
    fn new(r: &mut FunnelRow, currency: Option<&str>) -> FunnelFigures {
        let [meeting, sql, opportunity, won] = r.stages;
        let stage = |n: i64, previous: i64| StageRate {
            of_previous: rate(n, previous),
            of_routed: rate(n, r.routed),
        };
        let rates = StageRates {
            accepted: stage(r.accepted, r.routed),
            meeting: stage(meeting, r.accepted),
            sql: stage(sql, meeting),
            opportunity: stage(opportunity, sql),
            won: stage(won, opportunity),
        };
        let [m, s, o, w] = &mut r.stage_s;
        let cost = r.spend.clone().map(|(spend, currency)| CostFigures {
            spend: cents(spend),
            currency,
            per_routed: per(spend, r.routed),
            per_accepted: per(spend, r.accepted),
            per_sql: per(spend, sql),
        });
        FunnelFigures {
            routed: r.routed,
            accepted: r.accepted,
            meeting,
            sql,
            opportunity,
            won,
            lost: r.lost,
            rates,
            pipeline_amount: currency.map(|_| cents(r.pipeline)),
            pipeline_per_accepted: currency.and_then(|_| per(r.pipeline, r.accepted)),
            won_amount: currency.map(|_| cents(r.won_amount)),
            other_currency_amounts: r.other_currency,
            time_from_acceptance: StageTimes {
                meeting: percentiles(m),
                sql: percentiles(s),
                opportunity: percentiles(o),
                won: percentiles(w),
            },
            cost,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FunnelGroup {
    /// As in the acceptance report.
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: FunnelFigures,
}

/// `GET /v1/metrics/funnel`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FunnelReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    /// The currency amounts are summed in: `currency` as asked, else the most common one of
    /// the period's opportunity and won amounts; null when there is none.
    pub currency: Option<String>,
    pub total: FunnelFigures,
    pub groups: Vec<FunnelGroup>,
}

/// The index of a stage in [`FunnelRow::stages`].
pub fn stage_index(s: Stage) -> usize {
    s as usize
}

pub fn funnel(
    meta: ReportMeta,
    currency: Option<String>,
    buckets: Option<&[String]>,
    rows: &mut [FunnelRow],
) -> FunnelReport {
    let cur = currency.as_deref();
    let total = total_row(rows)
        .cloned()
        .map(|mut t| FunnelFigures::new(&mut t, cur))
        .unwrap_or_default();
    let groups = groups(&meta, buckets, rows, |key, row| FunnelGroup {
        figures: FunnelFigures::new(&mut row.cloned().unwrap_or_default(), cur),
        key,
    });
    FunnelReport {
        meta,
        currency,
        total,
        groups,
    }
}
