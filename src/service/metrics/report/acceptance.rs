//! The acceptance report: rates, health band, time to decision.

use serde::Serialize;
use utoipa::ToSchema;

use super::{groups, total_row, Percentiles, ReportMeta};
use crate::db::metrics::AcceptanceRow;
use crate::domain::{
    band_evidence::BandEvidence,
    metrics::{rate, Band, BandLimits},
};

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
    /// What downstream outcomes say about the group's band (rubber-stamping or below range);
    /// null for other bands and on the dashboard.
    pub band_evidence: Option<BandEvidence>,
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
    let total = total_row(rows).unwrap_or(&empty);
    let groups = groups(&meta, buckets, rows, |key, row| AcceptanceGroup {
        figures: AcceptanceFigures::new(row.unwrap_or(&empty), &bands),
        key,
        band_evidence: None,
    });
    AcceptanceReport {
        total: AcceptanceFigures::new(total, &bands),
        meta,
        bands,
        groups,
    }
}
