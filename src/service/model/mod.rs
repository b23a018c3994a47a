//! The acceptance model's use cases (docs/api.md §6, "Acceptance model"): training it from the
//! log ([`train`], stepped by `jobs::model_trainer`), serving it from memory ([`ModelCache`])
//! to the leads the API returns, and describing it (`GET /v1/model`, [`report`]).

mod cache;
mod predict;
mod report;
mod train;

use std::time::Duration;

pub use cache::{ModelCache, Served};
pub use report::{HoldoutReport, ModelReport, ModelStatus, Period, StrongValue};
pub use train::{train, Trained, HOLDOUT_SHARE, WINDOW};

/// Laplace smoothing of every model.
pub const ALPHA: f64 = 1.0;

/// How the model is trained (`SALGATE_MODEL_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSettings {
    /// How often a replica trains (one at a time; a model younger than this is kept).
    pub retrain_interval: Duration,
    /// Fewer labelled cycles than this in the window: `not_enough_data`, no predictions.
    pub min_cycles: u64,
    /// Feature values seen in fewer training cycles than this count as `other`.
    pub min_support: u64,
}

impl ModelSettings {
    pub fn params(&self) -> crate::domain::model::Params {
        crate::domain::model::Params {
            alpha: ALPHA,
            min_support: self.min_support,
        }
    }
}

/// A lead's features as the model names them: the feature's encoded name (its dimension, or
/// `attribute.<key>`) and its value.
pub fn named(features: &crate::domain::features::FeatureVector) -> Vec<(String, String)> {
    features
        .iter()
        .map(|f| (f.name(), f.value.clone()))
        .collect()
}
