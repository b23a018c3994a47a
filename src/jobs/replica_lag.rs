//! Measures the read replica's lag (`db::replica::lag_seconds`) and records it where
//! `Service::read_pool` decides from it; the time of each measurement is the injected
//! clock's, so a test moves the clock instead of waiting.

use std::sync::Arc;

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::replica::{lag_seconds, LagError},
    jobs::Job,
    service::replica::{ReadReplica, Reading},
};

pub struct ReplicaLag {
    primary: PgPool,
    replica: Arc<ReadReplica>,
    clock: Arc<dyn Clock>,
}

impl ReplicaLag {
    pub fn new(primary: PgPool, replica: Arc<ReadReplica>, clock: Arc<dyn Clock>) -> Self {
        ReplicaLag {
            primary,
            replica,
            clock,
        }
    }

    /// One measurement, recorded and returned. A primary that does not answer leaves the last
    /// reading as it was (the reads then fail or fall back on their own); a replica that does
    /// not answer is down.
    pub async fn run_once(&self) -> Reading {
        let at = self.clock.now();
        let reading = match lag_seconds(&self.primary, &self.replica.pool).await {
            Ok(lag) => Reading::Measured { at, lag },
            Err(e @ LagError::Primary(_)) => {
                tracing::warn!(error = %e, "replica lag not measured");
                return self.replica.reading();
            }
            Err(e @ LagError::Replica(_)) => {
                tracing::warn!(error = %e, "replica lag not measured: the replica is down");
                Reading::Down { at }
            }
        };
        self.replica.record(reading);
        reading
    }
}

impl Job for ReplicaLag {
    async fn step(&mut self, _cancel: &CancellationToken) -> Option<std::time::Duration> {
        self.run_once().await;
        None
    }
}
