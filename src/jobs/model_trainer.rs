//! The model trainer: retrains the acceptance model (`service::model::train`) every retrain
//! interval. Safe with any number of replicas: one trains at a time (advisory lock), and a
//! replica whose turn comes after another's run finds a fresh model and skips. The model it
//! stores is installed in its own replica's cache at once; the others pick it up within their
//! cache TTL.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::model,
    jobs::{self, Job, Schedule},
    service::model::{train, ModelCache, ModelSettings, Trained},
};

pub struct ModelTrainer {
    pub db: PgPool,
    pub clock: Arc<dyn Clock>,
    pub settings: ModelSettings,
    /// This replica's served model, updated after a run that stored one.
    pub cache: Arc<ModelCache>,
}

impl ModelTrainer {
    pub fn new(
        db: PgPool,
        clock: Arc<dyn Clock>,
        settings: ModelSettings,
        cache: Arc<ModelCache>,
    ) -> Self {
        ModelTrainer {
            db,
            clock,
            settings,
            cache,
        }
    }

    /// One run at the clock's time: trains unless another replica is training or the newest
    /// model is younger than the retrain interval.
    pub async fn run_once(&self) -> Result<Trained, sqlx::Error> {
        let trained = train(&self.db, self.clock.now(), &self.settings, false).await?;
        if let Trained::Stored { .. } = trained {
            if let Some(row) = model::latest(&self.db).await? {
                self.cache.install(&row);
            }
        }
        Ok(trained)
    }

    /// Trains every retrain interval (the first run a minute after start, so a replica that
    /// starts serves a model soon) until `cancel` fires; errors are logged and retried.
    pub async fn run(self, cancel: CancellationToken) {
        let every = self.settings.retrain_interval;
        let schedule = Schedule {
            first: every.min(Duration::from_secs(60)),
            every,
        };
        jobs::run(self, schedule, cancel).await
    }
}

impl Job for ModelTrainer {
    async fn step(&mut self, _cancel: &CancellationToken) -> Option<Duration> {
        match self.run_once().await {
            Ok(Trained::Stored {
                ready,
                cycles,
                quality,
                ..
            }) => {
                tracing::info!(ready, cycles, auc = ?quality.auc, "acceptance model trained")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "model training failed; retrying"),
        }
        None
    }
}
