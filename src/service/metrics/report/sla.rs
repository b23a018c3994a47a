//! The SLA report: breaches, cycles open past due, first-touch compliance.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{groups, total_row, Percentiles, ReportMeta};
use crate::db::metrics::SlaRow;
use crate::domain::metrics::rate;

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
    let groups = groups(&meta, buckets, rows, |key, row| SlaGroup {
        figures: row.map(Into::into).unwrap_or_default(),
        key,
    });
    SlaReport {
        total: total_row(rows).map(Into::into).unwrap_or_default(),
        meta,
        as_of,
        groups,
    }
}
