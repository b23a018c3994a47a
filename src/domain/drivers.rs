//! The rejection-drivers arithmetic (docs/api.md "Rejection drivers"): which feature values
//! concentrate the rejections, counted cycle by cycle by a [`Counter`]; no I/O.
//!
//! For a value `v` with `n` decided cycles of which `k` rejected, in a period of `N` cycles
//! and `R` rejections: rate `k/n`, lift `(k/n) / (R/N)`, share `k/R`, the Wilson 95 % interval
//! of `k/n`. Values with `n` below the minimum support are not reported (counted as
//! suppressed per dimension). The summary is the greedy cover described at `Counter::summary`.

use std::collections::{BTreeMap, HashMap};

mod figures;
pub use figures::{CodeCount, DimensionFigures, Drivers, Interval, Summary, Totals, ValueFigures};

use super::{
    features::{decode_entry, entries, Dimension, Feature},
    metrics::rate,
};

/// z of a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Codes listed per value.
pub const TOP_CODES: usize = 3;

/// A pair enters the summary only if it adds at least this share of all rejections…
pub const SUMMARY_MIN_GAIN: f64 = 0.05;
/// …and the summary names at most this many pairs.
pub const SUMMARY_MAX_PAIRS: usize = 3;

/// The Wilson score interval of `k` successes in `n` trials at `z`; `None` when `n` is 0.
pub fn wilson(k: i64, n: i64, z: f64) -> Option<(f64, f64)> {
    if n <= 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Per value: cycles, rejections, and rejections per code (indexed by code id).
#[derive(Default)]
struct Tally {
    cycles: i64,
    rejected: i64,
    codes: Vec<i64>,
}

/// Counts cycles one at a time (a scan hands them over without holding them), then gives the
/// report's figures. Entries (`name=value`) and codes are counted by id: ids the caller
/// interned ([`Counter::add_ids`], the scan's symbols), or ids this counter gives the text it
/// is handed ([`Counter::add`]); one counter uses one or the other. Each cycle keeps the ids
/// of its entries, for the summary's union.
#[derive(Default)]
pub struct Counter {
    entries: Names,
    codes: Names,
    /// By entry id.
    tallies: Vec<Tally>,
    /// Code names by code id, resolved when the figures are made.
    code_names: Vec<Box<str>>,
    /// The entry ids of every cycle, one after another; `ends[i]` is where cycle i's end.
    cell_ids: Vec<u32>,
    ends: Vec<u32>,
    cells: Vec<(i64, bool)>,
    total: Totals,
}

/// Text interned as dense ids.
#[derive(Default)]
struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        id
    }

    fn get(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(|n| &**n)
    }
}

impl Counter {
    pub fn new() -> Counter {
        Counter::default()
    }

    /// Adds `cycles` cycles with the encoded feature vector `features`, rejected (with
    /// `code`) or accepted. Read with [`Counter::finish`].
    pub fn add(&mut self, features: &str, rejected: bool, code: Option<&str>, cycles: i64) {
        let code = code.map(|c| self.codes.intern(c));
        let ids: Vec<u32> = entries(features).map(|e| self.entries.intern(e)).collect();
        self.add_ids(&ids, rejected, code, cycles);
    }

    /// Adds `cycles` cycles with the entries of ids `ids`, rejected (with the code of id
    /// `code`) or accepted. Read with [`Counter::finish_named`].
    pub fn add_ids(&mut self, ids: &[u32], rejected: bool, code: Option<u32>, cycles: i64) {
        self.total.cycles += cycles;
        let rejections = if rejected { cycles } else { 0 };
        self.total.rejected += rejections;
        let code = code.filter(|_| rejected).map(|c| c as usize);
        for &id in ids {
            let i = id as usize;
            if self.tallies.len() <= i {
                self.tallies.resize_with(i + 1, Tally::default);
            }
            let t = &mut self.tallies[i];
            t.cycles += cycles;
            t.rejected += rejections;
            if let Some(c) = code {
                if t.codes.len() <= c {
                    t.codes.resize(c + 1, 0);
                }
                t.codes[c] += cycles;
            }
            self.cell_ids.push(id);
        }
        self.ends.push(self.cell_ids.len() as u32);
        self.cells.push((cycles, rejected));
    }

    /// The entry ids of each cycle.
    fn cell(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.cell_ids[start..self.ends[i] as usize]
    }

    /// The report's figures of a counter fed by [`Counter::add`], values under `min_support`
    /// cycles suppressed.
    pub fn finish(mut self, min_support: i64) -> Drivers {
        let (entries, codes) = (
            std::mem::take(&mut self.entries),
            std::mem::take(&mut self.codes),
        );
        self.finish_named(min_support, |id| entries.get(id), |id| codes.get(id))
    }

    /// The report's figures of a counter fed by [`Counter::add_ids`], the ids named by
    /// `entry` and `code`.
    pub fn finish_named<'a>(
        mut self,
        min_support: i64,
        entry: impl Fn(u32) -> Option<&'a str>,
        code: impl Fn(u32) -> Option<&'a str>,
    ) -> Drivers {
        self.total.rejection_rate = rate(self.total.rejected, self.total.cycles);
        let codes = self
            .tallies
            .iter()
            .map(|t| t.codes.len())
            .max()
            .unwrap_or(0);
        self.code_names = (0..codes as u32)
            .map(|id| code(id).unwrap_or_default().into())
            .collect();
        let features: Vec<(usize, Feature)> = (0..self.tallies.len())
            .filter(|id| self.tallies[*id].cycles > 0)
            .filter_map(|id| Some((id, decode_entry(entry(id as u32)?)?)))
            .collect();
        let dimensions = self.dimension_figures(&features, min_support);
        let summary = self.summary(&features, min_support);
        Drivers {
            min_support,
            total: self.total,
            dimensions,
            summary,
        }
    }
    fn figures(&self, value: &str, t: &Tally) -> ValueFigures {
        let total = self.total;
        let lift = (t.cycles > 0 && total.rejected > 0).then(|| {
            let own = t.rejected as f64 / t.cycles as f64;
            round4(own / (total.rejected as f64 / total.cycles as f64))
        });
        let mut codes: Vec<CodeCount> = t
            .codes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(id, count)| CodeCount {
                code: self.code_names[id].to_string(),
                count: *count,
            })
            .collect();
        codes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
        codes.truncate(TOP_CODES);
        ValueFigures {
            value: value.to_owned(),
            cycles: t.cycles,
            rejected: t.rejected,
            rejection_rate: rate(t.rejected, t.cycles),
            lift,
            share: rate(t.rejected, total.rejected),
            interval: wilson(t.rejected, t.cycles, Z95).map(|(low, high)| Interval {
                low: round4(low),
                high: round4(high),
            }),
            codes,
        }
    }

    fn dimension_figures(
        &self,
        features: &[(usize, Feature)],
        min_support: i64,
    ) -> Vec<DimensionFigures> {
        let mut by_dim: BTreeMap<(Dimension, Option<String>), DimensionFigures> = BTreeMap::new();
        for (id, f) in features {
            let d = by_dim
                .entry((f.dimension, f.attribute.clone()))
                .or_insert_with(|| DimensionFigures {
                    dimension: f.dimension,
                    attribute: f.attribute.clone(),
                    suppressed: 0,
                    values: Vec::new(),
                });
            let t = &self.tallies[*id];
            if t.cycles < min_support {
                d.suppressed += 1;
            } else {
                d.values.push(self.figures(&f.value, t));
            }
        }
        let mut out: Vec<DimensionFigures> = by_dim.into_values().collect();
        for d in &mut out {
            d.values.sort_by(|a, b| {
                b.rejected
                    .cmp(&a.rejected)
                    .then_with(|| b.cycles.cmp(&a.cycles))
                    .then_with(|| a.value.cmp(&b.value))
            });
        }
        out
    }

    /// The greedy cover: among values with enough cycles whose rejection rate is above the
    /// period's with 95 % confidence (Wilson lower bound above it, hence lift > 1),
    /// repeatedly take the one whose cycles not yet covered hold the most rejections, while
    /// those add at least [`SUMMARY_MIN_GAIN`] of all rejections and are themselves rejected
    /// more often than the period's rate; at most [`SUMMARY_MAX_PAIRS`]. The share is of the
    /// union of their cycles, counted cycle by cycle.
    fn summary(&self, features: &[(usize, Feature)], min_support: i64) -> Option<Summary> {
        let total = self.total;
        if total.rejected == 0 || total.cycles == 0 {
            return None;
        }
        let period = total.rejected as f64 / total.cycles as f64;
        let mut candidates: Vec<&(usize, Feature)> = features
            .iter()
            .filter(|(id, _)| {
                let t = &self.tallies[*id];
                t.cycles >= min_support
                    && wilson(t.rejected, t.cycles, Z95).is_some_and(|(low, _)| low > period)
            })
            .collect();
        // Ties go to the dimension order, then the value: the result does not depend on
        // hashing.
        candidates.sort_by(|a, b| a.1.cmp(&b.1));
        let slot: HashMap<u32, usize> = candidates
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (*id as u32, i))
            .collect();
        // The cycles of each candidate.
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); candidates.len()];
        for j in 0..self.cells.len() {
            for id in self.cell(j) {
                if let Some(&i) = slot.get(id) {
                    members[i].push(j);
                }
            }
        }
        let mut covered = vec![false; self.cells.len()];
        let mut taken = vec![false; candidates.len()];
        let mut chosen: Vec<Feature> = Vec::new();
        let mut rejected = 0i64;
        while chosen.len() < SUMMARY_MAX_PAIRS {
            let mut best: Option<(usize, i64, i64)> = None;
            for (i, cells_of) in members.iter().enumerate().filter(|(i, _)| !taken[*i]) {
                let (mut gain_rejected, mut gain_cycles) = (0i64, 0i64);
                for &j in cells_of.iter().filter(|&&j| !covered[j]) {
                    let (cycles, was_rejected) = self.cells[j];
                    gain_cycles += cycles;
                    if was_rejected {
                        gain_rejected += cycles;
                    }
                }
                if best.is_none_or(|(_, r, _)| gain_rejected > r) {
                    best = Some((i, gain_rejected, gain_cycles));
                }
            }
            let Some((i, gain_rejected, gain_cycles)) = best else {
                break;
            };
            let enough = gain_rejected as f64 >= SUMMARY_MIN_GAIN * total.rejected as f64;
            let above = gain_cycles > 0 && gain_rejected as f64 / gain_cycles as f64 > period;
            if !(enough && above) {
                break;
            }
            taken[i] = true;
            for &j in &members[i] {
                covered[j] = true;
            }
            rejected += gain_rejected;
            chosen.push(candidates[i].1.clone());
        }
        if chosen.is_empty() {
            return None;
        }
        let share = rate(rejected, total.rejected);
        let text = sentence(&chosen, share.unwrap_or(0.0));
        Some(Summary {
            features: chosen,
            rejected,
            share,
            text,
        })
    }
}

/// "a explains 40 % of rejections", "a and b explain 76 % …", "a, b and c explain …".
fn sentence(features: &[Feature], share: f64) -> String {
    let names: Vec<String> = features.iter().map(Feature::describe).collect();
    let list = match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    let verb = if names.len() == 1 {
        "explains"
    } else {
        "explain"
    };
    format!("{list} {verb} {:.0} % of rejections", share * 100.0)
}

#[cfg(test)]
#[path = "drivers_tests.rs"]
mod tests;
