//! The reports' figures folded from cycles as `db::cycle_blocks::scan` hands them over: one
//! scan feeds several views (a period and a grouping each), so a report that compares with the
//! previous period, or the dashboard with all its reports, reads its cycles once. The rules
//! per cycle are `domain::cycle_facts`'s; this module only counts.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::{
    db::{
        cycle_blocks::{FactSink, Symbols},
        metrics::{GroupBy, Scope},
    },
    domain::{
        cycle_facts::{CycleFact, Dim, Outcome, Sym, HOUR_US},
        metrics::Period,
    },
};

/// A period and a grouping to count.
#[derive(Debug, Clone, Copy)]
pub struct ViewSpec {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group: Option<GroupBy>,
    /// Keep every decision and first-touch time, for the percentiles.
    pub detail: bool,
}

/// Counts of one group (or of a view's total).
#[derive(Debug, Default)]
struct Tally {
    routed: i64,
    accepted: i64,
    rejected: i64,
    recycled_outcome: i64,
    open: i64,
    accepted_within_sla: i64,
    decision_s: Vec<f64>,
    breached: i64,
    open_past_due: i64,
    first_touch_met: i64,
    first_touch_missed: i64,
    touch_s: Vec<f64>,
    recycled: i64,
    rerouted: i64,
    accepted_later: i64,
    codes: HashMap<Sym, i64>,
    reasons: HashMap<Sym, i64>,
}

impl Tally {
    fn add(&mut self, c: &CycleFact, now: Option<i64>, detail: bool) {
        self.routed += 1;
        match c.outcome {
            Outcome::Open => self.open += 1,
            Outcome::Accepted => {
                self.accepted += 1;
                self.accepted_within_sla += i64::from(c.accepted_within_sla);
            }
            Outcome::Rejected => {
                self.rejected += 1;
                *self.codes.entry(c.rejection_code).or_default() += 1;
            }
            Outcome::Recycled => self.recycled_outcome += 1,
        }
        if c.recycled {
            self.recycled += 1;
            self.rerouted += i64::from(c.rerouted);
            self.accepted_later += i64::from(c.accepted_later);
            *self.reasons.entry(c.recycle_reason).or_default() += 1;
        }
        self.breached += i64::from(c.breached);
        self.first_touch_met += i64::from(c.first_touch_met());
        if let Some(now) = now {
            self.open_past_due += i64::from(c.open_past_due(now));
            self.first_touch_missed += i64::from(c.first_touch_missed(now));
        }
        if detail {
            self.decision_s.extend(c.decision_s);
            self.touch_s.extend(c.touch_s);
        }
    }
}

/// What a cycle's group is.
enum Keyer {
    Ungrouped,
    Dim(Dim),
    Time(TimeKeys),
}

/// Time buckets: the bucket of a cycle is the one its local date falls in, worked out once
/// per UTC hour when the whole hour lies in one bucket (every hour, for zones whose midnight
/// is on a UTC hour), else per cycle.
struct TimeKeys {
    tz: Tz,
    period: Period,
    dates: Vec<NaiveDate>,
    index: HashMap<NaiveDate, u32>,
    last: Option<(i64, HourKey)>,
}

#[derive(Clone, Copy)]
enum HourKey {
    Whole(Option<u32>),
    Split,
}

impl TimeKeys {
    fn new(tz: Tz, period: Period, from: DateTime<Utc>, to: DateTime<Utc>) -> TimeKeys {
        let dates = period.buckets(from, to, tz);
        let index = (0u32..)
            .zip(dates.iter().copied())
            .map(|(i, d)| (d, i))
            .collect();
        TimeKeys {
            tz,
            period,
            dates,
            index,
            last: None,
        }
    }

    fn key(&mut self, at: i64) -> Option<u32> {
        let hour = at.div_euclid(HOUR_US);
        let k = match self.last {
            Some((h, k)) if h == hour => k,
            _ => {
                let k = self.hour_key(hour * HOUR_US);
                self.last = Some((hour, k));
                k
            }
        };
        match k {
            HourKey::Whole(k) => k,
            HourKey::Split => self.exact(at),
        }
    }

    fn hour_key(&self, start: i64) -> HourKey {
        let end = start + HOUR_US - 1;
        let offset = |t: i64| {
            DateTime::from_timestamp_micros(t)
                .map(|t| t.with_timezone(&self.tz).naive_local() - t.naive_utc())
        };
        match (offset(start), offset(end)) {
            // One offset all hour long: local time runs on with UTC, so one date ⇒ one bucket.
            (Some(a), Some(b)) if a == b && self.exact(start) == self.exact(end) => {
                HourKey::Whole(self.exact(start))
            }
            _ => HourKey::Split,
        }
    }

    fn exact(&self, at: i64) -> Option<u32> {
        let local = DateTime::from_timestamp_micros(at)?
            .with_timezone(&self.tz)
            .date_naive();
        self.index.get(&self.period.start_of(local)).copied()
    }
}

/// One view's counts.
pub struct View {
    from: i64,
    to: i64,
    detail: bool,
    keyer: Keyer,
    groups: HashMap<u32, Tally>,
    total: Tally,
}

impl View {
    fn new(spec: ViewSpec, tz: Tz) -> View {
        let keyer = match spec.group {
            None => Keyer::Ungrouped,
            Some(GroupBy::Time(p)) => Keyer::Time(TimeKeys::new(tz, p, spec.from, spec.to)),
            Some(GroupBy::Source) => Keyer::Dim(Dim::Source),
            Some(GroupBy::Campaign) => Keyer::Dim(Dim::Campaign),
            Some(GroupBy::Channel) => Keyer::Dim(Dim::Channel),
            Some(GroupBy::LeadType) => Keyer::Dim(Dim::LeadType),
            Some(GroupBy::Queue) => Keyer::Dim(Dim::Queue),
            Some(GroupBy::Owner) => Keyer::Dim(Dim::Owner),
        };
        View {
            from: spec.from.timestamp_micros(),
            to: spec.to.timestamp_micros(),
            detail: spec.detail,
            keyer,
            groups: HashMap::new(),
            total: Tally::default(),
        }
    }

    fn add(&mut self, c: &CycleFact, now: Option<i64>) {
        if c.routed_at < self.from || c.routed_at >= self.to {
            return;
        }
        self.total.add(c, now, self.detail);
        let key = match &mut self.keyer {
            Keyer::Ungrouped => return,
            Keyer::Dim(d) => Some(c.dim(*d)),
            Keyer::Time(t) => t.key(c.routed_at),
        };
        // A cycle outside every bucket counts in the total only.
        if let Some(k) = key {
            self.groups.entry(k).or_default().add(c, now, self.detail);
        }
    }
}

/// The scan's sink: the scope's filters, then every view.
pub struct Tallies {
    filters: [Option<Sym>; 6],
    now: Option<i64>,
    views: Vec<View>,
}

impl Tallies {
    /// Counts the cycles of `scope` (its filters; the views bring their periods) in each of
    /// `specs`; `now` evaluates open past due and first-touch misses (none when `None`).
    pub fn new(
        syms: &mut Symbols,
        scope: &Scope,
        now: Option<DateTime<Utc>>,
        specs: &[ViewSpec],
    ) -> Tallies {
        let f = [
            &scope.source,
            &scope.campaign,
            &scope.channel,
            &scope.lead_type,
            &scope.queue,
            &scope.owner,
        ];
        Tallies {
            filters: f.map(|v| v.as_deref().map(|v| syms.intern(Some(v)))),
            now: now.map(|t| t.timestamp_micros()),
            views: specs.iter().map(|s| View::new(*s, scope.tz)).collect(),
        }
    }

    pub fn into_views(self) -> Vec<View> {
        self.views
    }
}

impl FactSink for Tallies {
    fn fact(&mut self, c: &CycleFact) {
        let kept = self
            .filters
            .iter()
            .zip(c.dims)
            .all(|(f, d)| f.is_none_or(|f| f == d));
        if kept {
            for v in &mut self.views {
                v.add(c, self.now);
            }
        }
    }
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;

mod rows;
