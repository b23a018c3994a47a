//! A view's counts as the rows the report builders take (`db::metrics` row types): one per
//! group, and the total.

use super::{Keyer, Tally, View, DECIDED_BY_KEYS};
use crate::{
    db::{
        cycle_blocks::Symbols,
        metrics::{AcceptanceRow, CodeCount, RecyclingRow, SlaRow},
    },
    domain::{
        cycle_facts::Sym,
        metrics::{bucket_key, percentile_disc_select},
    },
};

fn percentiles(values: &mut [f64]) -> Option<Vec<f64>> {
    Some(vec![
        percentile_disc_select(values, 0.5)?,
        percentile_disc_select(values, 0.9)?,
    ])
}

impl View {
    /// The key a group's rows carry: the field's value (null for cycles without one), or the
    /// bucket's first day.
    pub(super) fn key_of(&self, k: u32, syms: &Symbols) -> Option<String> {
        match &self.keyer {
            Keyer::Ungrouped => None,
            Keyer::Dim(_) => syms.name(k).map(str::to_owned),
            Keyer::DecidedBy => DECIDED_BY_KEYS
                .get(k as usize)
                .map(|d| d.as_str().to_owned()),
            Keyer::Time(t) => t.dates.get(k as usize).map(|d| bucket_key(*d)),
        }
    }

    /// Every group with its key, then the total (key null).
    fn rows<R>(
        &mut self,
        syms: &Symbols,
        mut build: impl FnMut(Option<String>, bool, &mut Tally) -> R,
    ) -> Vec<R> {
        let mut order: Vec<usize> = (0..self.groups.len()).collect();
        order.sort_unstable_by_key(|&i| self.groups[i].0);
        let mut out = Vec::with_capacity(order.len() + 1);
        for i in order {
            let key = self.key_of(self.groups[i].0, syms);
            out.push(build(key, false, &mut self.groups[i].1));
        }
        out.push(build(None, true, &mut self.total()));
        out
    }

    pub fn acceptance_rows(&mut self, syms: &Symbols) -> Vec<AcceptanceRow> {
        self.rows(syms, |key, total, t| AcceptanceRow {
            key,
            total,
            routed: t.routed,
            accepted: t.accepted,
            rejected: t.rejected,
            recycled: t.recycled_outcome,
            open: t.open,
            accepted_within_sla: t.accepted_within_sla,
            time_to_decision: percentiles(&mut t.decision_s),
        })
    }

    pub fn sla_rows(&mut self, syms: &Symbols) -> Vec<SlaRow> {
        self.rows(syms, |key, total, t| SlaRow {
            key,
            total,
            routed: t.routed,
            breached: t.breached,
            open_past_due: t.open_past_due,
            first_touch_met: t.first_touch_met,
            first_touch_missed: t.first_touch_missed,
            time_to_first_touch: percentiles(&mut t.touch_s),
        })
    }

    pub fn recycling_rows(&mut self, syms: &Symbols) -> Vec<RecyclingRow> {
        self.rows(syms, |key, total, t| RecyclingRow {
            key,
            total,
            routed: t.routed,
            recycled: t.recycled,
            rerouted: t.rerouted,
            accepted_later: t.accepted_later,
        })
    }

    /// Rejections per group and code (per code when ungrouped); a missing code counts as "".
    pub fn rejection_counts(&mut self, syms: &Symbols) -> Vec<CodeCount> {
        self.code_counts(syms, |t| &t.codes)
    }

    /// Recycles per group and reason; a missing reason counts as "".
    pub fn reason_counts(&mut self, syms: &Symbols) -> Vec<CodeCount> {
        self.code_counts(syms, |t| &t.reasons)
    }

    fn code_counts(
        &mut self,
        syms: &Symbols,
        of: impl Fn(&Tally) -> &[(Sym, i64)],
    ) -> Vec<CodeCount> {
        let grouped = !matches!(self.keyer, Keyer::Ungrouped);
        let per_group = self.rows(syms, |key, total, t| {
            if grouped == total {
                return Vec::new();
            }
            of(t)
                .iter()
                .map(|(code, n)| CodeCount {
                    key: key.clone(),
                    code: syms.name(*code).unwrap_or_default().to_owned(),
                    count: *n,
                })
                .collect()
        });
        per_group.into_iter().flatten().collect()
    }
}
