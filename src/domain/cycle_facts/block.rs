//! The packed form of an hour of cycles (`cycle_blocks`): `data`, every fact the reports read,
//! and `features`, the feature entries only the rejection-drivers report reads (kept apart so
//! the other reports do not read them).

use thiserror::Error;

use super::{CycleFact, Outcome, OutcomeFact, Sym, HOUR_US};
use crate::domain::outcome::OutcomeKind;

/// The encoding version this build writes and reads.
pub const FORMAT: i16 = 5;

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
const OUTCOMES: u64 = 1 << 13;

// Bit of an outcome's head (bits 0–2 hold its kind).
const AMOUNT: u64 = 1 << 3;

/// Packs the cycles of the hour starting at `hour` (each routed in it; sorted here by routing
/// time) as `(data, features)`.
///
/// `data`: cycle count, then per cycle its offset from the one before (the first: from the
/// hour), flags, dimensions and codes as LEB128 varints, the present instants as zigzag
/// varints relative to its routing time, its lead id for open cycles, and its outcomes.
/// `features`: per cycle, in the same order, 0 when it has none, else their count + 1 and
/// their symbols.
pub fn encode_block(hour: i64, cycles: &mut [CycleFact]) -> Result<(Vec<u8>, Vec<u8>), BlockError> {
    cycles.sort_by_key(|c| c.routed_at);
    let mut out = Vec::with_capacity(8 + cycles.len() * 32);
    let mut features = Vec::with_capacity(cycles.len() * 16);
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
            put(&mut out, delta(t, c.routed_at)?);
        }
        if let Some(id) = c.lead_id {
            out.extend_from_slice(id.as_bytes());
        }
        if !c.outcomes.is_empty() {
            put_outcomes(&mut out, c)?;
        }
        if c.featured {
            put(&mut features, c.features.len() as u64 + 1);
            for s in &c.features {
                put(&mut features, u64::from(*s));
            }
        } else {
            put(&mut features, 0);
        }
    }
    Ok((out, features))
}

fn put_outcomes(out: &mut Vec<u8>, c: &CycleFact) -> Result<(), BlockError> {
    put(out, c.outcomes.len() as u64);
    for o in &c.outcomes {
        let kind = OutcomeKind::ALL
            .iter()
            .position(|k| *k == o.kind)
            .ok_or(BlockError::Overflow)? as u64;
        put(out, kind | if o.amount.is_some() { AMOUNT } else { 0 });
        put(out, delta(o.at, c.routed_at)?);
        if let Some((amount, currency)) = o.amount {
            out.extend_from_slice(&amount.to_le_bytes());
            put(out, u64::from(currency));
        }
    }
    Ok(())
}

fn delta(t: i64, base: i64) -> Result<u64, BlockError> {
    t.checked_sub(base).map(zigzag).ok_or(BlockError::Overflow)
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
        (!c.outcomes.is_empty(), OUTCOMES),
    ];
    bits.iter()
        .filter(|(on, _)| *on)
        .fold(c.outcome as u64, |acc, (_, bit)| acc | bit)
}

/// Unpacks a block written by [`encode_block`] for the hour starting at `hour`, handing each
/// cycle to `each` (one value reused: the block is never held decoded). With `features`,
/// each cycle carries its feature symbols; without, none (and `featured` is false).
pub fn decode_block(
    hour: i64,
    data: &[u8],
    features: Option<&[u8]>,
    mut each: impl FnMut(&CycleFact),
) -> Result<(), BlockError> {
    let mut r = Reader(data);
    let mut fr = features.map(Reader);
    let n = r.varint()?;
    let mut c = CycleFact::default();
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
        c.outcomes.clear();
        if f & OUTCOMES != 0 {
            r.outcomes(c.routed_at, &mut c.outcomes)?;
        }
        c.features.clear();
        c.featured = false;
        if let Some(fr) = fr.as_mut() {
            let count = fr.varint()?;
            c.featured = count > 0;
            for _ in 1..count {
                c.features.push(fr.sym()?);
            }
        }
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

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], BlockError> {
        let (bytes, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(BlockError::Truncated)?;
        self.0 = rest;
        Ok(*bytes)
    }

    fn uuid(&mut self, present: bool) -> Result<Option<uuid::Uuid>, BlockError> {
        if !present {
            return Ok(None);
        }
        Ok(Some(uuid::Uuid::from_bytes(self.bytes()?)))
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

    fn outcomes(&mut self, base: i64, out: &mut Vec<OutcomeFact>) -> Result<(), BlockError> {
        let n = self.varint()?;
        if n == 0 {
            return Err(BlockError::Overflow);
        }
        for _ in 0..n {
            let head = self.varint()?;
            let kind = usize::try_from(head & 7)
                .ok()
                .and_then(|i| OutcomeKind::ALL.get(i).copied())
                .ok_or(BlockError::Overflow)?;
            if head & !(7 | AMOUNT) != 0 {
                return Err(BlockError::Overflow);
            }
            let at = self.instant(true, base)?.ok_or(BlockError::Truncated)?;
            let amount = if head & AMOUNT != 0 {
                let amount = f64::from_le_bytes(self.bytes()?);
                Some((amount, self.sym()?))
            } else {
                None
            };
            out.push(OutcomeFact { kind, at, amount });
        }
        Ok(())
    }
}
