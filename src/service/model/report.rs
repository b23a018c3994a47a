//! `GET /v1/model`: the newest model's status, training set and holdout quality.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ModelSettings, Served};
use crate::{
    db::model::{self, ModelRow},
    domain::model::eval::Bucket,
    service::{Result, Service},
};

/// How many values `top_features` lists.
pub const TOP_FEATURES: usize = 10;

/// Whether leads get predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelStatus {
    /// Trained on at least `min_cycles` labelled cycles: routed leads get a prediction.
    Ready,
    /// Trained, but on fewer labelled cycles than `min_cycles`: no lead gets a prediction.
    NotEnoughData,
    /// No model has been trained yet.
    NotTrained,
}

/// The routing times of the cycles trained on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The model measured on the newest part of the period, fitted to the cycles before it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HoldoutReport {
    /// Cycles routed at or after this are the holdout.
    pub from: DateTime<Utc>,
    pub cycles: u64,
    /// Mann–Whitney AUC (ties count half); null without both accepted and rejected cycles.
    pub auc: Option<f64>,
    /// Mean of (p_accept − accepted)²; null for an empty holdout.
    pub brier: Option<f64>,
    /// Ten buckets of p_accept: the mean prediction and the observed acceptance rate of each.
    pub calibration: Vec<Bucket>,
}

/// A feature value and its effect in the served model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StrongValue {
    pub dimension: String,
    pub value: String,
    /// `ln P(value | accepted) − ln P(value | rejected)`: positive raises p_accept.
    pub effect: f64,
    /// Training cycles with this value.
    pub cycles: u64,
}

/// The acceptance model.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelReport {
    pub status: ModelStatus,
    pub trained_at: Option<DateTime<Utc>>,
    /// Labelled (accepted or rejected) cycles in the period: the served model's training set.
    pub training_cycles: i64,
    pub min_cycles: u64,
    pub min_support: u64,
    pub period: Option<Period>,
    pub holdout: Option<HoldoutReport>,
    /// The values with the largest absolute effect, at most ten.
    pub top_features: Vec<StrongValue>,
}

impl Service {
    /// The newest stored model, described (read from the database, not the cache).
    pub async fn model_report(&self) -> Result<ModelReport> {
        let row = model::latest(&self.db).await?;
        Ok(describe(row.as_ref(), &self.model_settings))
    }
}

fn describe(row: Option<&ModelRow>, settings: &ModelSettings) -> ModelReport {
    let mut report = ModelReport {
        status: ModelStatus::NotTrained,
        trained_at: None,
        training_cycles: 0,
        min_cycles: settings.min_cycles,
        min_support: settings.min_support,
        period: None,
        holdout: None,
        top_features: Vec::new(),
    };
    let Some(row) = row else {
        return report;
    };
    report.status = if row.ready {
        ModelStatus::Ready
    } else {
        ModelStatus::NotEnoughData
    };
    report.trained_at = Some(row.trained_at);
    report.training_cycles = row.training_cycles;
    report.min_support = row.min_support.max(0) as u64;
    report.period = row
        .period_from
        .zip(row.period_to)
        .map(|(from, to)| Period { from, to });
    let q = &row.quality.0;
    report.holdout = row.holdout_from.map(|from| HoldoutReport {
        from,
        cycles: q.cycles,
        auc: q.auc.map(round4),
        brier: q.brier.map(round4),
        calibration: q.calibration.clone(),
    });
    if let Some(m) = Served::from_row(row).model {
        report.top_features = m
            .strongest(TOP_FEATURES)
            .into_iter()
            .map(|(f, cycles)| StrongValue {
                dimension: f.dimension,
                value: f.value,
                effect: f.effect,
                cycles,
            })
            .collect();
    }
    report
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
