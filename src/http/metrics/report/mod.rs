//! Report documents: the rows of `db::metrics` turned into figures with rates, bands, trends,
//! and the empty time buckets filled in. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

mod acceptance;
mod recycling;
mod rejections;
mod sla;

pub use acceptance::*;
pub use recycling::*;
pub use rejections::*;
pub use sla::*;

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
