//! The acceptance model against synthetic histories driven through the real API: a planted
//! signal is found on the holdout and in the leads' predictions, pure noise is not, too few
//! cycles give `not_enough_data`, and the retrain job picks up new decisions.

mod claim_order;
pub mod history;
mod serving;

use std::sync::Arc;

use salgate::{
    jobs::model_trainer::ModelTrainer,
    service::model::{ModelCache, ModelSettings, Trained},
};
use serde_json::Value;

use crate::helpers::TestApp;

/// The trainer of `app`'s database and clock, with `app`'s default settings but `min_cycles`.
fn trainer(app: &TestApp, min_cycles: u64) -> ModelTrainer {
    let settings = ModelSettings {
        retrain_interval: std::time::Duration::from_secs(3600),
        min_cycles,
        min_support: 20,
    };
    ModelTrainer::new(
        app.pool.clone(),
        Arc::new(app.clock.clone()),
        settings,
        Arc::new(ModelCache::new(std::time::Duration::ZERO)),
    )
}

pub async fn train(app: &TestApp, min_cycles: u64) -> Trained {
    trainer(app, min_cycles).run_once().await.unwrap()
}

async fn model(app: &TestApp) -> Value {
    let res = app.get("/v1/model", &app.admin).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}
