//! Report documents: the rows of `db::metrics` turned into figures with rates, bands, trends,
//! and the empty time buckets filled in. No I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::metrics::{AcceptanceRow, RecyclingRow, SlaRow};

mod acceptance;
mod funnel;
mod recycling;
mod rejections;
mod sla;

pub use acceptance::*;
pub use funnel::*;
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
    /// `source`, `campaign`, `channel`, `lead_type`, `queue`, `owner`, `account`,
    /// `decided_by`, `day`, `week` or `month`; null when ungrouped.
    pub group_by: Option<String>,
    /// The filters applied (`source`, `campaign`, …).
    pub filters: BTreeMap<String, String>,
    /// Grouped by account: each group key (an account id) with the account's name; empty
    /// otherwise.
    pub account_names: BTreeMap<String, String>,
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

/// A row of a grouped `db::metrics` query: one group's, or the total's.
pub trait KeyedRow {
    /// The group key (null for cycles without one).
    fn key(&self) -> &Option<String>;
    /// Whether this is the total row.
    fn is_total(&self) -> bool;
}

macro_rules! keyed_row {
    ($($t:ty),*) => {$(
        impl KeyedRow for $t {
            fn key(&self) -> &Option<String> {
                &self.key
            }
            fn is_total(&self) -> bool {
                self.total
            }
        }
    )*};
}
keyed_row!(AcceptanceRow, SlaRow, RecyclingRow);

/// The total row, if the query returned one.
pub fn total_row<R: KeyedRow>(rows: &[R]) -> Option<&R> {
    rows.iter().find(|r| r.is_total())
}

/// The groups of a report, in [`group_keys`] order, each built from its row (`None` for an
/// empty time bucket); none when the report is ungrouped.
pub fn groups<'a, R: KeyedRow, G>(
    meta: &ReportMeta,
    buckets: Option<&[String]>,
    rows: &'a [R],
    mut build: impl FnMut(Option<String>, Option<&'a R>) -> G,
) -> Vec<G> {
    if meta.group_by.is_none() {
        return Vec::new();
    }
    let by_key: HashMap<&Option<String>, &R> = rows
        .iter()
        .filter(|r| !r.is_total())
        .map(|r| (r.key(), r))
        .collect();
    group_keys(buckets, by_key.keys().copied())
        .into_iter()
        .map(|key| {
            let row = by_key.get(&key).copied();
            build(key, row)
        })
        .collect()
}
