//! What a report knows about one cycle, the rules it applies to it, and the packed form an
//! hour of cycles is stored in (`cycle_blocks`, see its migration). No I/O.
//!
//! A packed cycle takes ~25–40 bytes: an hour of 115 cycles is ~4 KB, 90 days of them ~9 MB.
//!
//! Instants are microseconds since the Unix epoch (PostgreSQL's own precision). Dimensions and
//! codes are symbols: ids of `report_symbols`, 0 for NULL.

use thiserror::Error;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Open = 0,
    Accepted = 1,
    Rejected = 2,
    Recycled = 3,
}

/// One cycle as the reports see it (a row of `lead_cycles` with what depends on later cycles).
#[derive(Debug, Clone, PartialEq)]
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

/// The encoding version this build writes and reads.
pub const FORMAT: i16 = 4;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BlockError {
    #[error("the block ends inside a cycle")]
    Truncated,
    #[error("a cycle's routing time is outside its hour")]
    OutsideHour,
    #[error("a number in the block is out of range")]
    Overflow,
}

// Flag bits of a packed cycle (bits 0 and 1 hold the outcome).
const WITHIN_SLA: u64 = 1 << 2;
const BREACHED: u64 = 1 << 3;
const RECYCLED: u64 = 1 << 4;
const REROUTED: u64 = 1 << 5;
const ACCEPTED_LATER: u64 = 1 << 6;
const DECIDED: u64 = 1 << 7;
const SLA_DUE: u64 = 1 << 8;
const FT_DUE: u64 = 1 << 9;
const TOUCHED: u64 = 1 << 10;
const LEAD_ID: u64 = 1 << 11;
const BY_RULE: u64 = 1 << 12;

/// Packs the cycles of the hour starting at `hour` (each routed in it; sorted here by routing
/// time) as: cycle count, then per cycle its offset from the one before (the first: from the
/// hour), flags, dimensions and codes as LEB128 varints, and the present instants as zigzag
/// varints relative to its routing time.
pub fn encode_block(hour: i64, cycles: &mut [CycleFact]) -> Result<Vec<u8>, BlockError> {
    cycles.sort_by_key(|c| c.routed_at);
    let mut out = Vec::with_capacity(8 + cycles.len() * 32);
    put(&mut out, cycles.len() as u64);
    let mut previous = hour;
    for c in cycles.iter() {
        if !(hour..hour + HOUR_US).contains(&c.routed_at) {
            return Err(BlockError::OutsideHour);
        }
        put(&mut out, (c.routed_at - previous) as u64);
        previous = c.routed_at;
        put(&mut out, flags(c));
        for s in c.dims.iter().chain([&c.rejection_code, &c.recycle_reason]) {
            put(&mut out, u64::from(*s));
        }
        let instants = [
            c.decided_at,
            c.sla_due_at,
            c.first_touch_due_at,
            c.first_touched_at,
        ];
        for t in instants.into_iter().flatten() {
            let delta = t.checked_sub(c.routed_at).ok_or(BlockError::Overflow)?;
            put(&mut out, zigzag(delta));
        }
        if let Some(id) = c.lead_id {
            out.extend_from_slice(id.as_bytes());
        }
    }
    Ok(out)
}

fn flags(c: &CycleFact) -> u64 {
    let bits = [
        (c.accepted_within_sla, WITHIN_SLA),
        (c.breached, BREACHED),
        (c.recycled, RECYCLED),
        (c.rerouted, REROUTED),
        (c.accepted_later, ACCEPTED_LATER),
        (c.decided_at.is_some(), DECIDED),
        (c.sla_due_at.is_some(), SLA_DUE),
        (c.first_touch_due_at.is_some(), FT_DUE),
        (c.first_touched_at.is_some(), TOUCHED),
        (c.lead_id.is_some(), LEAD_ID),
        (c.decided_by_rule, BY_RULE),
    ];
    bits.iter()
        .filter(|(on, _)| *on)
        .fold(c.outcome as u64, |acc, (_, bit)| acc | bit)
}

/// Unpacks a block written by [`encode_block`] for the hour starting at `hour`, handing each
/// cycle to `each` (one value reused: the block is never held decoded).
pub fn decode_block(
    hour: i64,
    data: &[u8],
    mut each: impl FnMut(&CycleFact),
) -> Result<(), BlockError> {
    let mut r = Reader(data);
    let n = r.varint()?;
    let mut c = CycleFact {
        lead_id: None,
        routed_at: 0,
        dims: [NONE; DIMS],
        outcome: Outcome::Open,
        accepted_within_sla: false,
        breached: false,
        recycled: false,
        rerouted: false,
        accepted_later: false,
        rejection_code: NONE,
        recycle_reason: NONE,
        decided_by_rule: false,
        decided_at: None,
        sla_due_at: None,
        first_touch_due_at: None,
        first_touched_at: None,
    };
    let mut offset = 0u64;
    for _ in 0..n {
        offset = offset
            .checked_add(r.varint()?)
            .ok_or(BlockError::Overflow)?;
        if offset >= HOUR_US as u64 {
            return Err(BlockError::OutsideHour);
        }
        c.routed_at = hour + offset as i64;
        let f = r.varint()?;
        c.outcome = match f & 3 {
            0 => Outcome::Open,
            1 => Outcome::Accepted,
            2 => Outcome::Rejected,
            _ => Outcome::Recycled,
        };
        c.accepted_within_sla = f & WITHIN_SLA != 0;
        c.breached = f & BREACHED != 0;
        c.recycled = f & RECYCLED != 0;
        c.rerouted = f & REROUTED != 0;
        c.accepted_later = f & ACCEPTED_LATER != 0;
        c.decided_by_rule = f & BY_RULE != 0;
        for d in c.dims.iter_mut() {
            *d = r.sym()?;
        }
        c.rejection_code = r.sym()?;
        c.recycle_reason = r.sym()?;
        c.decided_at = r.instant(f & DECIDED != 0, c.routed_at)?;
        c.sla_due_at = r.instant(f & SLA_DUE != 0, c.routed_at)?;
        c.first_touch_due_at = r.instant(f & FT_DUE != 0, c.routed_at)?;
        c.first_touched_at = r.instant(f & TOUCHED != 0, c.routed_at)?;
        c.lead_id = r.uuid(f & LEAD_ID != 0)?;
        each(&c);
    }
    Ok(())
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, BlockError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or(BlockError::Truncated)?;
            self.0 = rest;
            v |= u64::from(b & 0x7f)
                .checked_shl(shift)
                .ok_or(BlockError::Overflow)?;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(BlockError::Overflow)
    }

    fn sym(&mut self) -> Result<Sym, BlockError> {
        Sym::try_from(self.varint()?).map_err(|_| BlockError::Overflow)
    }

    fn uuid(&mut self, present: bool) -> Result<Option<uuid::Uuid>, BlockError> {
        if !present {
            return Ok(None);
        }
        let (bytes, rest) = self
            .0
            .split_first_chunk::<16>()
            .ok_or(BlockError::Truncated)?;
        self.0 = rest;
        Ok(Some(uuid::Uuid::from_bytes(*bytes)))
    }

    fn instant(&mut self, present: bool, base: i64) -> Result<Option<i64>, BlockError> {
        if !present {
            return Ok(None);
        }
        let delta = unzigzag(self.varint()?);
        base.checked_add(delta)
            .ok_or(BlockError::Overflow)
            .map(Some)
    }
}

#[cfg(test)]
#[path = "cycle_facts_tests.rs"]
mod tests;
