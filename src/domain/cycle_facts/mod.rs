//! What a report knows about one cycle, the rules it applies to it, and the packed form an
//! hour of cycles is stored in (`cycle_blocks`, see its migration). No I/O.
//!
//! A packed cycle takes ~25–40 bytes: an hour of 115 cycles is ~4 KB, 90 days of them ~9 MB.
//!
//! Instants are microseconds since the Unix epoch (PostgreSQL's own precision). Dimensions and
//! codes are symbols: ids of `report_symbols`, 0 for NULL.

use crate::domain::outcome::OutcomeKind;

mod block;
pub use block::{decode_block, encode_block, BlockError, FORMAT};

/// An id of `report_symbols`; [`NONE`] for NULL.
pub type Sym = u32;
/// The symbol of NULL.
pub const NONE: Sym = 0;

/// Microseconds in an hour.
pub const HOUR_US: i64 = 3_600_000_000;

/// The fields a report filters and groups on, in [`CycleFact::dims`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Source = 0,
    Campaign = 1,
    Channel = 2,
    LeadType = 3,
    Queue = 4,
    Owner = 5,
    /// The account's id (the survivor's, after a merge).
    Account = 6,
}

/// How many dimensions a cycle has.
pub const DIMS: usize = 7;

/// The gate decision of a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    #[default]
    Open = 0,
    Accepted = 1,
    Rejected = 2,
    Recycled = 3,
}

/// One cycle as the reports see it (a row of `lead_cycles` with what depends on later cycles).
/// The default is an open cycle routed at the epoch with nothing known.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CycleFact {
    /// The lead: kept for open cycles (the past-due list names them), left out of blocks for
    /// decided ones.
    pub lead_id: Option<uuid::Uuid>,
    pub routed_at: i64,
    /// source, campaign, channel, lead_type, queue, owner, account (see [`Dim`]).
    pub dims: [Sym; DIMS],
    pub outcome: Outcome,
    pub accepted_within_sla: bool,
    pub breached: bool,
    /// Recycled at some point of the cycle (from routed, or after an accept).
    pub recycled: bool,
    /// Recycled, and the lead was routed again in a later cycle.
    pub rerouted: bool,
    /// Recycled, and a later cycle of the lead was accepted.
    pub accepted_later: bool,
    pub rejection_code: Sym,
    pub recycle_reason: Sym,
    /// The gate decision was a rule's (its actor is `rule:<id>`), not a person's.
    pub decided_by_rule: bool,
    /// When the gate decision was made.
    pub decided_at: Option<i64>,
    pub sla_due_at: Option<i64>,
    pub first_touch_due_at: Option<i64>,
    pub first_touched_at: Option<i64>,
    /// Its downstream outcomes (the funnel's input), in the order they were stored.
    pub outcomes: Vec<OutcomeFact>,
    /// The cycle was stored with features (cycles stored before features were have none).
    pub featured: bool,
    /// Its feature entries (`name=value`, see `domain::features`) as symbols; filled only
    /// when a scan asks for them (the rejection-drivers report).
    pub features: Vec<Sym>,
}

/// One downstream outcome of a cycle, as the funnel reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutcomeFact {
    pub kind: OutcomeKind,
    pub at: i64,
    /// The amount and its currency (a symbol).
    pub amount: Option<(f64, Sym)>,
}

impl CycleFact {
    pub fn dim(&self, d: Dim) -> Sym {
        self.dims[d as usize]
    }

    /// Seconds from routing to the gate decision.
    pub fn decision_s(&self) -> Option<f64> {
        self.decided_at.map(|t| seconds(t - self.routed_at))
    }

    /// Seconds from routing to the first touch.
    pub fn touch_s(&self) -> Option<f64> {
        self.first_touched_at.map(|t| seconds(t - self.routed_at))
    }

    /// Undecided, and its decision was due at or before `now`: silent non-acceptance (the SLA
    /// report's count and the dashboard's list).
    pub fn open_past_due(&self, now: i64) -> bool {
        self.outcome == Outcome::Open && self.sla_due_at.is_some_and(|due| due <= now)
    }

    /// Has a first-touch due time and was touched by it.
    pub fn first_touch_met(&self) -> bool {
        match (self.first_touch_due_at, self.first_touched_at) {
            (Some(due), Some(at)) => at <= due,
            _ => false,
        }
    }

    /// Has a first-touch due time and was touched after it, or not yet touched at `now`
    /// past it.
    pub fn first_touch_missed(&self, now: i64) -> bool {
        match (self.first_touch_due_at, self.first_touched_at) {
            (Some(due), Some(at)) => at > due,
            (Some(due), None) => due <= now,
            _ => false,
        }
    }
}

/// Microseconds as seconds: the nearest float8 to the exact quotient, which is also what
/// PostgreSQL's `extract(epoch FROM later - earlier)::float8` gives (an exact numeric, rounded
/// once).
fn seconds(us: i64) -> f64 {
    us as f64 / 1e6
}

#[cfg(test)]
mod tests;
