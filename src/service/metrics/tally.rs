//! The reports' figures folded from cycles as `db::cycle_blocks::scan` hands them over: one
//! scan feeds several views (a period and a grouping each), so a report that compares with the
//! previous period, or the dashboard with all its reports, reads its cycles once. The rules
//! per cycle are `domain::cycle_facts`'s; this module only counts.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::past_due::PastDue;
use crate::{
    db::{
        cycle_blocks::{FactSink, Symbols},
        metrics::{DecidedBy, GroupBy, Scope},
    },
    domain::{
        cycle_facts::{CycleFact, Dim, Outcome, Sym, DIMS, HOUR_US},
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
    /// Per code and reason: a handful each, so a list beats a map.
    codes: Vec<(Sym, i64)>,
    reasons: Vec<(Sym, i64)>,
}

fn bump(counts: &mut Vec<(Sym, i64)>, s: Sym) {
    match counts.iter_mut().find(|(k, _)| *k == s) {
        Some((_, n)) => *n += 1,
        None => counts.push((s, 1)),
    }
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
                bump(&mut self.codes, c.rejection_code);
            }
            Outcome::Recycled => self.recycled_outcome += 1,
        }
        if c.recycled {
            self.recycled += 1;
            self.rerouted += i64::from(c.rerouted);
            self.accepted_later += i64::from(c.accepted_later);
            bump(&mut self.reasons, c.recycle_reason);
        }
        self.breached += i64::from(c.breached);
        self.first_touch_met += i64::from(c.first_touch_met());
        if let Some(now) = now {
            self.open_past_due += i64::from(c.open_past_due(now));
            self.first_touch_missed += i64::from(c.first_touch_missed(now));
        }
        if detail {
            self.decision_s.extend(c.decision_s());
            self.touch_s.extend(c.touch_s());
        }
    }

    /// Adds `other`'s counts and values to these.
    fn merge(&mut self, other: &Tally) {
        let counts = [
            (&mut self.routed, other.routed),
            (&mut self.accepted, other.accepted),
            (&mut self.rejected, other.rejected),
            (&mut self.recycled_outcome, other.recycled_outcome),
            (&mut self.open, other.open),
            (&mut self.accepted_within_sla, other.accepted_within_sla),
            (&mut self.breached, other.breached),
            (&mut self.open_past_due, other.open_past_due),
            (&mut self.first_touch_met, other.first_touch_met),
            (&mut self.first_touch_missed, other.first_touch_missed),
            (&mut self.recycled, other.recycled),
            (&mut self.rerouted, other.rerouted),
            (&mut self.accepted_later, other.accepted_later),
        ];
        for (mine, theirs) in counts {
            *mine += theirs;
        }
        self.decision_s.extend_from_slice(&other.decision_s);
        self.touch_s.extend_from_slice(&other.touch_s);
        for (list, theirs) in [
            (&mut self.codes, &other.codes),
            (&mut self.reasons, &other.reasons),
        ] {
            for &(s, n) in theirs {
                match list.iter_mut().find(|(k, _)| *k == s) {
                    Some((_, m)) => *m += n,
                    None => list.push((s, n)),
                }
            }
        }
    }
}

/// What a cycle's group is.
enum Keyer {
    Ungrouped,
    Dim(Dim),
    /// 0 for a person's decision, 1 for a rule's ([`DECIDED_BY_KEYS`]).
    DecidedBy,
    Time(TimeKeys),
}

/// The group keys of [`Keyer::DecidedBy`], by key.
const DECIDED_BY_KEYS: [DecidedBy; 2] = [DecidedBy::Person, DecidedBy::Rule];

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
    /// By key (a bucket's index or a symbol): 1 + the group's index in `groups`, 0 for none
    /// yet. Keys are small dense numbers, so a vector beats hashing per cycle.
    slots: Vec<u32>,
    groups: Vec<(u32, Tally)>,
    /// Ungrouped: every cycle; grouped: the cycles outside every group (none in practice: the
    /// buckets cover the period). The total is this plus the groups, summed at the end, so a
    /// cycle is counted once.
    rest: Tally,
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
            Some(GroupBy::Account) => Keyer::Dim(Dim::Account),
            Some(GroupBy::DecidedBy) => Keyer::DecidedBy,
        };
        View {
            from: spec.from.timestamp_micros(),
            to: spec.to.timestamp_micros(),
            detail: spec.detail,
            keyer,
            slots: Vec::new(),
            groups: Vec::new(),
            rest: Tally::default(),
        }
    }

    fn add(&mut self, c: &CycleFact, now: Option<i64>) {
        if c.routed_at < self.from || c.routed_at >= self.to {
            return;
        }
        let key = match &mut self.keyer {
            Keyer::Ungrouped => None,
            Keyer::Dim(d) => Some(c.dim(*d)),
            Keyer::DecidedBy => Some(u32::from(c.decided_by_rule)),
            Keyer::Time(t) => t.key(c.routed_at),
        };
        let detail = self.detail;
        match key {
            Some(k) => self.group(k).add(c, now, detail),
            None => self.rest.add(c, now, detail),
        }
    }

    /// The view's total: its groups and the rest.
    fn total(&self) -> Tally {
        let mut total = Tally::default();
        total.merge(&self.rest);
        for (_, g) in &self.groups {
            total.merge(g);
        }
        total
    }

    fn group(&mut self, k: u32) -> &mut Tally {
        let i = k as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, 0);
        }
        if self.slots[i] == 0 {
            self.groups.push((k, Tally::default()));
            self.slots[i] = self.groups.len() as u32;
        }
        let slot = self.slots[i] as usize - 1;
        &mut self.groups[slot].1
    }
}

/// The scan's sink: the scope's filters, then every view (and the past-due list, if asked).
pub struct Tallies {
    filters: [Option<Sym>; DIMS],
    decided_by: Option<DecidedBy>,
    now: Option<i64>,
    views: Vec<View>,
    past_due: Option<PastDue>,
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
            &scope.account,
        ];
        Tallies {
            filters: f.map(|v| v.as_deref().map(|v| syms.intern(Some(v)))),
            decided_by: scope.decided_by,
            now: now.map(|t| t.timestamp_micros()),
            views: specs.iter().map(|s| View::new(*s, scope.tz)).collect(),
            past_due: None,
        }
    }

    /// Also lists up to `limit` cycles of the scope's period open past due at `now` (which
    /// must be given).
    pub fn with_past_due(mut self, scope: &Scope, limit: usize) -> Tallies {
        self.past_due = Some(PastDue::new(scope.from, scope.to, limit));
        self
    }

    pub fn into_parts(self) -> (Vec<View>, Option<PastDue>) {
        (self.views, self.past_due)
    }
}

impl FactSink for Tallies {
    fn fact(&mut self, c: &CycleFact) {
        let kept = self
            .filters
            .iter()
            .zip(c.dims)
            .all(|(f, d)| f.is_none_or(|f| f == d))
            && self
                .decided_by
                .is_none_or(|by| by == DecidedBy::of(c.decided_by_rule));
        if kept {
            for v in &mut self.views {
                v.add(c, self.now);
            }
            if let (Some(list), Some(now)) = (&mut self.past_due, self.now) {
                list.add(c, now);
            }
        }
    }
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;

mod rows;
// The funnel keys its outcome cycles with the views' own rules.
pub mod grouping;
