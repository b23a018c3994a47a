//! The rejection report: count and share per code, against the previous period.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ReportMeta;
use crate::db::metrics::CodeCount;
use crate::domain::metrics::{rate, share_rose};

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
