//! How good a model's probabilities are on cycles it was not trained on: AUC (the chance that a
//! random accepted cycle scores above a random rejected one, ties counting half), Brier score
//! (mean squared error of the probability) and ten calibration buckets.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Calibration buckets: `[0, 0.1)`, `[0.1, 0.2)`, …, `[0.9, 1]`.
pub const BUCKETS: usize = 10;

/// Predictions and what happened, collected one cycle at a time.
#[derive(Debug, Clone, Default)]
pub struct Holdout {
    scored: Vec<(f64, bool)>,
}

/// One calibration bucket: the holdout cycles whose probability fell in `[lower, upper)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    /// Mean predicted `p_accept` in the bucket (null when empty).
    pub predicted_mean: Option<f64>,
    /// Share of the bucket's cycles that were accepted (null when empty).
    pub observed_rate: Option<f64>,
}

/// A model's quality on a holdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Quality {
    /// Holdout cycles.
    pub cycles: u64,
    /// Null unless the holdout has both accepted and rejected cycles.
    pub auc: Option<f64>,
    /// Null for an empty holdout.
    pub brier: Option<f64>,
    pub calibration: Vec<Bucket>,
}

impl Holdout {
    /// One cycle: its predicted probability of acceptance and whether it was accepted.
    pub fn push(&mut self, p_accept: f64, accepted: bool) {
        self.scored.push((p_accept, accepted));
    }

    pub fn len(&self) -> usize {
        self.scored.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scored.is_empty()
    }

    /// AUC, Brier and calibration of what was pushed.
    pub fn quality(mut self) -> Quality {
        Quality {
            cycles: self.scored.len() as u64,
            brier: brier(&self.scored),
            calibration: calibration(&self.scored),
            auc: auc(&mut self.scored),
        }
    }
}

/// Mann–Whitney AUC with tied scores sharing their average rank; `None` without both classes.
/// Sorts `scored`.
pub fn auc(scored: &mut [(f64, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|(_, y)| *y).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let tie = scored[i..]
            .iter()
            .take_while(|s| s.0 == scored[i].0)
            .count();
        // Ranks i+1 ..= i+tie share their mean.
        let mean_rank = i as f64 + (tie as f64 + 1.0) / 2.0;
        let tied_positives = scored[i..i + tie].iter().filter(|s| s.1).count();
        rank_sum += mean_rank * tied_positives as f64;
        i += tie;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Mean of `(p − y)²`; `None` when empty.
pub fn brier(scored: &[(f64, bool)]) -> Option<f64> {
    if scored.is_empty() {
        return None;
    }
    let sum: f64 = scored
        .iter()
        .map(|&(p, y)| (p - f64::from(u8::from(y))).powi(2))
        .sum();
    Some(sum / scored.len() as f64)
}

/// The [`BUCKETS`] buckets, empty ones included.
pub fn calibration(scored: &[(f64, bool)]) -> Vec<Bucket> {
    let mut sums = [(0u64, 0.0f64, 0u64); BUCKETS];
    for &(p, y) in scored {
        let b = ((p * BUCKETS as f64).floor() as usize).min(BUCKETS - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += u64::from(y);
    }
    sums.iter()
        .enumerate()
        .map(|(i, &(count, p, accepted))| Bucket {
            lower: i as f64 / BUCKETS as f64,
            upper: (i + 1) as f64 / BUCKETS as f64,
            count,
            predicted_mean: (count > 0).then(|| p / count as f64),
            observed_rate: (count > 0).then(|| accepted as f64 / count as f64),
        })
        .collect()
}
