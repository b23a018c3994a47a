//! The scope's filters and a view's grouping for sinks beside the tallies (the funnel's
//! outcome cycles, the drivers' cycles): the same filter test and the same keys as the
//! tallies, so a cycle lands in the group its acceptance figures are counted in.

use super::{Keyer, View, ViewSpec};
use crate::{
    db::{
        cycle_blocks::Symbols,
        metrics::{DecidedBy, Scope},
    },
    domain::cycle_facts::{Sym, DIMS},
};

/// Filters and keys cycles as a [`super::Tallies`] view of `spec` does.
pub struct Grouping {
    filters: [Option<Sym>; DIMS],
    decided_by: Option<DecidedBy>,
    view: View,
}

/// What [`Grouping::key`] says about a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// Filtered out, or routed outside the view's period.
    Out,
    /// In the group with this key (a symbol or a bucket's index), or in none (`None`:
    /// ungrouped).
    In(Option<u32>),
}

impl Grouping {
    pub fn new(syms: &mut Symbols, scope: &Scope, spec: ViewSpec) -> Grouping {
        let f = [
            &scope.source,
            &scope.campaign,
            &scope.channel,
            &scope.lead_type,
            &scope.queue,
            &scope.owner,
            &scope.account,
        ];
        Grouping {
            filters: f.map(|v| v.as_deref().map(|v| syms.intern(Some(v)))),
            decided_by: scope.decided_by,
            view: View::new(spec, scope.tz),
        }
    }

    /// Where a cycle routed at `at` (microseconds) with dimensions `dims` (in `Dim` order), decided
    /// by a rule or not, goes.
    pub fn key(&mut self, at: i64, dims: [Sym; DIMS], by_rule: bool) -> Placed {
        let kept = self
            .filters
            .iter()
            .zip(dims)
            .all(|(f, d)| f.is_none_or(|f| f == d))
            && self
                .decided_by
                .is_none_or(|by| by == DecidedBy::of(by_rule));
        if !kept || at < self.view.from || at >= self.view.to {
            return Placed::Out;
        }
        Placed::In(match &mut self.view.keyer {
            Keyer::Ungrouped => None,
            Keyer::Dim(d) => Some(dims[*d as usize]),
            Keyer::DecidedBy => Some(u32::from(by_rule)),
            Keyer::Time(t) => t.key(at),
        })
    }

    /// The key a report row carries for group `k` (as the tallies' rows name it).
    pub fn name(&self, k: u32, syms: &Symbols) -> Option<String> {
        self.view.key_of(k, syms)
    }
}
