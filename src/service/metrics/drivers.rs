//! The rejection-drivers report's use case (docs/api.md "Rejection drivers"): the decided
//! cycles of the request's period and filters with the features they were routed with, from
//! the cycle scan (`db::cycle_blocks`, blocks and raw cycles alike), counted one by one by
//! `domain::drivers`. Cycles stored before features were get theirs from their lead's stored
//! inputs here (`db::drivers`, `service::features`: the same rule as at ingest).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{
    report::ReportMeta,
    tally::{
        grouping::{Grouping, Placed},
        ViewSpec,
    },
    ReportRequest,
};
use crate::{
    db::{
        cycle_blocks::{self, FactSink},
        drivers::{self, UnfeaturedCycle},
    },
    domain::{
        cycle_facts::{CycleFact, Outcome, Sym, NONE},
        drivers::{Counter, DimensionFigures, Summary, Totals},
        features::entries,
        validation::FieldError,
    },
    service::{
        features::{of_stored, StoredInputs},
        Result,
    },
};

/// The rejection-drivers report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DriversReport {
    #[serde(flatten)]
    pub meta: ReportMeta,
    /// Cycles a value needs to be listed (`SALGATE_DRIVER_MIN_SUPPORT`).
    pub min_support: i64,
    /// The period's decided cycles, rejections and rejection rate.
    pub total: Totals,
    /// Every dimension (and configured attribute key) with its values.
    pub dimensions: Vec<DimensionFigures>,
    /// The fewest values above the period's rate that explain the most rejections; null when
    /// none is.
    pub summary: Option<Summary>,
}

/// Reads the reports' parameters; `group_by` is refused (the report is per feature value).
pub fn read_request(
    params: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> std::result::Result<ReportRequest, Vec<FieldError>> {
    let grouped = params.contains_key("group_by");
    let mut errors = match ReportRequest::read(params, now) {
        Ok(req) if !grouped => return Ok(req),
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    };
    if grouped && !errors.iter().any(|e| e.field == "group_by") {
        errors.push(FieldError {
            field: "group_by".into(),
            message: "the rejection-drivers report is not grouped: it lists every feature value"
                .into(),
        });
    }
    Err(errors)
}

/// The rejection-drivers report of `req`.
pub async fn rejection_drivers(
    pool: &PgPool,
    req: &ReportRequest,
    min_support: i64,
    feature_attributes: &[String],
) -> Result<DriversReport> {
    let s = &req.scope;
    let spec = ViewSpec {
        from: s.from,
        to: s.to,
        group: None,
        detail: false,
    };
    let (mut sink, mut syms) = cycle_blocks::scan(pool, s.from, s.to, true, |syms| DriverSink {
        grouping: Grouping::new(syms, s, spec),
        entries: Dense::default(),
        codes: Dense::default(),
        counter: Counter::new(),
    })
    .await?;
    // Cycles stored before features were: theirs from their lead's inputs (the scan skips them).
    for c in &drivers::unfeatured(pool, s).await? {
        let features = of_stored(&inputs(c), feature_attributes);
        let ids: Vec<Sym> = entries(&features).map(|e| syms.intern(Some(e))).collect();
        let code = syms.intern(c.code.as_deref());
        sink.add(&ids, c.rejected, code);
    }
    let DriverSink {
        entries,
        codes,
        counter,
        ..
    } = sink;
    let name = |dense: &Dense, id: u32| syms.name(dense.sym(id));
    let d = counter.finish_named(min_support, |id| name(&entries, id), |id| name(&codes, id));
    let mut meta = req.meta();
    meta.group_by = None;
    Ok(DriversReport {
        meta,
        min_support: d.min_support,
        total: d.total,
        dimensions: d.dimensions,
        summary: d.summary,
    })
}

/// Counts the scan's decided cycles that have features and that the scope's filters keep.
struct DriverSink {
    grouping: Grouping,
    entries: Dense,
    codes: Dense,
    counter: Counter,
}

impl DriverSink {
    /// One decided cycle with entries `entries` and rejection code `code` (symbols).
    fn add(&mut self, entries: &[Sym], rejected: bool, code: Sym) {
        let ids: Vec<u32> = entries.iter().map(|&e| self.entries.id(e)).collect();
        let code = (code != NONE).then(|| self.codes.id(code));
        self.counter.add_ids(&ids, rejected, code, 1);
    }
}

impl FactSink for DriverSink {
    fn fact(&mut self, c: &CycleFact) {
        let decided = matches!(c.outcome, Outcome::Accepted | Outcome::Rejected);
        if !decided || !c.featured {
            return;
        }
        if self.grouping.key(c.routed_at, c.dims, c.decided_by_rule) != Placed::Out {
            self.add(
                &c.features,
                c.outcome == Outcome::Rejected,
                c.rejection_code,
            );
        }
    }
}

/// Symbols numbered densely from 0 in the order first seen: the counter's vectors are indexed
/// by these, not by symbols (which number every account and owner too).
#[derive(Default)]
struct Dense {
    by_sym: Vec<u32>,
    syms: Vec<Sym>,
}

impl Dense {
    fn id(&mut self, s: Sym) -> u32 {
        let i = s as usize;
        if self.by_sym.len() <= i {
            self.by_sym.resize(i + 1, u32::MAX);
        }
        if self.by_sym[i] == u32::MAX {
            self.by_sym[i] = self.syms.len() as u32;
            self.syms.push(s);
        }
        self.by_sym[i]
    }

    fn sym(&self, id: u32) -> Sym {
        self.syms.get(id as usize).copied().unwrap_or(NONE)
    }
}

fn inputs(c: &UnfeaturedCycle) -> StoredInputs<'_> {
    StoredInputs {
        title: c.title.as_deref(),
        company: c.company.as_ref(),
        campaign: c.campaign.as_deref(),
        channel: c.channel.as_deref(),
        source: &c.source,
        score: c.score,
        lead_type: &c.lead_type,
        attributes: Some(&c.attributes),
    }
}
