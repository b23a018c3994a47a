//! The silent non-acceptance list: the cycles of a report's scope still undecided past their
//! due time now, longest overdue first, collected during the report scan (so it is the SLA
//! report's `open_past_due` count, from the same snapshot and the same rule).

use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::cycle_blocks::Symbols,
    domain::cycle_facts::{CycleFact, Dim, Sym},
};

/// One cycle still undecided past its due time (silent non-acceptance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastDueRow {
    pub lead_id: Uuid,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub routed_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
}

/// A candidate, ordered by due time then lead id: the heap keeps the `limit` smallest.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    due: i64,
    lead: Uuid,
    routed: i64,
    owner: Sym,
    queue: Sym,
}

/// Collects at most `limit` cycles: memory stays bounded whatever the period.
pub struct PastDue {
    from: i64,
    to: i64,
    limit: usize,
    heap: BinaryHeap<Entry>,
}

impl PastDue {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> PastDue {
        PastDue {
            from: from.timestamp_micros(),
            to: to.timestamp_micros(),
            limit,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    pub fn add(&mut self, c: &CycleFact, now: i64) {
        if c.routed_at < self.from || c.routed_at >= self.to || !c.open_past_due(now) {
            return;
        }
        let (Some(due), Some(lead)) = (c.sla_due_at, c.lead_id) else {
            return;
        };
        self.heap.push(Entry {
            due,
            lead,
            routed: c.routed_at,
            owner: c.dim(Dim::Owner),
            queue: c.dim(Dim::Queue),
        });
        if self.heap.len() > self.limit {
            self.heap.pop();
        }
    }

    /// The list, longest overdue first.
    pub fn into_rows(self, syms: &Symbols) -> Vec<PastDueRow> {
        let instant = |us| DateTime::from_timestamp_micros(us).unwrap_or_default();
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| PastDueRow {
                lead_id: e.lead,
                owner: syms.name(e.owner).map(str::to_owned),
                queue: syms.name(e.queue).map(str::to_owned),
                routed_at: instant(e.routed),
                sla_due_at: instant(e.due),
            })
            .collect()
    }
}
