//! The recycling report: recycled cycles, recycle conversion, reasons.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{code_totals, groups, total_row, CodeTable, ReportMeta};
use crate::db::metrics::RecyclingRow;
use crate::domain::metrics::rate;

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
    let groups = groups(&meta, buckets, rows, |key, row| RecyclingGroup {
        figures: RecyclingFigures::new(row, reasons.get(&key)),
        key,
    });
    let totals = code_totals(reasons);
    RecyclingReport {
        total: RecyclingFigures::new(total_row(rows), Some(&totals)),
        meta,
        groups,
    }
}
