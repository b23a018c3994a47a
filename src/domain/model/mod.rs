//! The acceptance model (docs/api.md §6, "Acceptance model"): naive Bayes over a lead's
//! categorical features, trained from counts. A cycle's label is its gate decision: accepted
//! (1) or rejected (0); recycled and open cycles are not labels. Pure: the counts come from one
//! GROUP BY in `db::model`, the features from `domain::features`.
//!
//! - [`Counts`]: what training reads (per feature value: accepted, rejected, rejected per code),
//!   also the stored form of a model (`models.counts`, jsonb), so a replica rebuilds the same
//!   model from the row.
//! - [`NaiveBayes`]: the fitted model (Laplace smoothing, values under the minimum support
//!   pooled into [`OTHER`]): `p_accept`, the likely rejection code, the top factors.
//! - [`eval`]: AUC, Brier score and calibration buckets on a holdout.

mod counts;
pub mod eval;
mod naive_bayes;
#[cfg(test)]
mod tests;

pub use counts::{Counts, Label, Tally};
pub use naive_bayes::{Factor, NaiveBayes, Params, Prediction};

/// The value every feature value seen fewer than the minimum support times in training is
/// counted as (and a value never seen in training is scored as).
pub const OTHER: &str = "other";

/// How many factors a prediction names.
pub const TOP_FACTORS: usize = 3;
