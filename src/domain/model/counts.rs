//! Training counts: how many labelled cycles, in all and per feature value, were accepted and
//! rejected, and the rejections per code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A cycle's label: its gate decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label<'a> {
    Accepted,
    /// Rejected with this code.
    Rejected(&'a str),
}

/// Accepted and rejected cycles, and the rejections per code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub accepted: u64,
    pub rejected: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub codes: BTreeMap<String, u64>,
}

impl Tally {
    /// `n` more cycles with `label`.
    pub fn add(&mut self, label: Label<'_>, n: u64) {
        match label {
            Label::Accepted => self.accepted += n,
            Label::Rejected(code) => {
                self.rejected += n;
                *self.codes.entry(code.to_owned()).or_default() += n;
            }
        }
    }

    /// Every cycle counted.
    pub fn cycles(&self) -> u64 {
        self.accepted + self.rejected
    }

    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: &Tally) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        for (code, n) in &other.codes {
            *self.codes.entry(code.clone()).or_default() += n;
        }
    }
}

/// The counts a model is trained from: the labelled cycles in all, and per dimension and value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub total: Tally,
    pub dimensions: BTreeMap<String, BTreeMap<String, Tally>>,
}

impl Counts {
    /// `n` more labelled cycles (the totals; their values are added with [`Counts::add_value`]).
    pub fn add_total(&mut self, label: Label<'_>, n: u64) {
        self.total.add(label, n);
    }

    /// `n` more cycles with `label` whose feature `dimension` has `value`.
    pub fn add_value(&mut self, dimension: &str, value: &str, label: Label<'_>, n: u64) {
        self.dimensions
            .entry(dimension.to_owned())
            .or_default()
            .entry(value.to_owned())
            .or_default()
            .add(label, n);
    }

    /// One labelled cycle with its features (tests and small histories; training from the
    /// database adds grouped counts instead).
    pub fn add_cycle<'a>(
        &mut self,
        features: impl IntoIterator<Item = (&'a str, &'a str)>,
        label: Label<'_>,
    ) {
        self.add_total(label, 1);
        for (dimension, value) in features {
            self.add_value(dimension, value, label, 1);
        }
    }

    /// Labelled cycles counted.
    pub fn cycles(&self) -> u64 {
        self.total.cycles()
    }
}
