//! The cycle compactor: rebuilds the hours whose cycles changed (`db::cycle_blocks`), so every
//! report reads one packed row per hour instead of one row per cycle. Safe with
//! any number of replicas (one compacts at a time; the others skip). Reports stay exact
//! whether or not it has run: an hour it has not rebuilt is read raw.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::cycle_blocks::{self, Compacted},
    jobs::{self, Job, Schedule},
};

/// Hours rebuilt per transaction.
pub const BATCH: i64 = 200;

pub struct CycleCompactor {
    pub db: PgPool,
    pub clock: Arc<dyn Clock>,
    pub batch: i64,
}

impl CycleCompactor {
    pub fn new(db: PgPool, clock: Arc<dyn Clock>) -> Self {
        CycleCompactor {
            db,
            clock,
            batch: BATCH,
        }
    }

    /// One batch: the marked hours before the clock's current hour.
    pub async fn run_once(&self) -> Result<Compacted, sqlx::Error> {
        cycle_blocks::compact(&self.db, self.clock.now(), self.batch).await
    }

    /// Runs batches until no marked hour is left (or another replica holds the lock, or
    /// cancelled between batches); returns the hours rebuilt.
    pub async fn drain(&self, cancel: &CancellationToken) -> Result<i64, sqlx::Error> {
        let mut hours = 0;
        loop {
            let c = self.run_once().await?;
            hours += c.hours;
            if c.busy || c.hours < self.batch || cancel.is_cancelled() {
                return Ok(hours);
            }
        }
    }

    /// Compacts every `interval` until `cancel` fires; errors are logged and retried.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        jobs::run(self, Schedule::every(interval), cancel).await
    }
}

impl Job for CycleCompactor {
    async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        match self.drain(cancel).await {
            Ok(hours) if hours > 0 => tracing::debug!(hours, "cycle hours compacted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cycle compaction failed; retrying"),
        }
        None
    }
}
