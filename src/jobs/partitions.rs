//! The partition job: keeps the partitions of the current month and [`AHEAD`] months after it
//! in place (`db::partitions`), so rows land in their month, not in the DEFAULT partition.
//! Idempotent and safe with any number of replicas; a month that could not be created is
//! logged and tried again on the next pass.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::partitions::{self, Ensured},
    jobs::{self, Job, Schedule},
};

/// Months created ahead of the current one. Creating a month's partition fails while the
/// DEFAULT partition holds rows of that month; three months ahead, and a pass every hour, make
/// that need a clock three months off.
pub const AHEAD: i32 = 3;

/// How often the job runs.
pub const EVERY: Duration = Duration::from_secs(3600);

pub struct PartitionJob {
    pub db: PgPool,
    pub clock: Arc<dyn Clock>,
    pub ahead: i32,
}

impl PartitionJob {
    pub fn new(db: PgPool, clock: Arc<dyn Clock>) -> Self {
        PartitionJob {
            db,
            clock,
            ahead: AHEAD,
        }
    }

    /// One pass at the clock's time: the partitions it did not find, created or not.
    pub async fn run_once(&self) -> Result<Vec<Ensured>, sqlx::Error> {
        partitions::ensure(&self.db, self.clock.now(), self.ahead).await
    }

    /// A pass at start (a replica started in a new month) and every [`EVERY`] until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let schedule = Schedule {
            first: Duration::ZERO,
            every: EVERY,
        };
        jobs::run(self, schedule, cancel).await
    }
}

impl Job for PartitionJob {
    async fn step(&mut self, _cancel: &CancellationToken) -> Option<Duration> {
        match self.run_once().await {
            Ok(found) => {
                for p in found {
                    let (table, month) = (p.parent.as_str(), p.month.format("%Y-%m").to_string());
                    if p.created() {
                        tracing::info!(table, month, "partition created");
                    } else {
                        tracing::warn!(table, month, outcome = p.outcome, "partition not created");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "partition job failed; retrying"),
        }
        None
    }
}
