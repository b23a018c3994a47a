//! Keeps the embedded PostgreSQL cluster up. Without it, a postgres that died (the OOM
//! killer, a stray `kill`) left the service running but unready for good: orchestrators
//! restart a process whose liveness fails, not one that is merely unready. With it, requests
//! get 503 `unavailable` until the cluster is back, then the pool reconnects by itself.
//!
//! Only for the cluster the service runs itself (no `DATABASE_URL`); an external server is
//! its operator's to supervise.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio_util::sync::CancellationToken;

use crate::{
    db::embedded::EmbeddedPostgres,
    jobs::{self, Job, Schedule},
};

/// The longest wait between two restart attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The cluster, shared with [`crate::startup::Database`], which takes it out to stop it.
pub type SharedCluster = Arc<Mutex<Option<EmbeddedPostgres>>>;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The cluster is running (or has been taken out to be stopped).
    Running,
    /// It had stopped and was started again.
    Restarted,
    /// It had stopped and could not be started; tried again later.
    RestartFailed(String),
}

pub struct PgSupervisor {
    cluster: SharedCluster,
    /// The period of the checks, and the wait before the next one (longer after a failure).
    interval: Duration,
    wait: Duration,
}

impl PgSupervisor {
    pub fn new(cluster: SharedCluster) -> Self {
        PgSupervisor {
            cluster,
            interval: Duration::from_secs(1),
            wait: Duration::from_secs(1),
        }
    }

    /// Checks the cluster once and starts it again if it stopped. Blocks a blocking-pool
    /// thread for as long as a start takes (crash recovery included), never a worker.
    pub async fn run_once(&self) -> Check {
        let cluster = self.cluster.clone();
        let checked = tokio::task::spawn_blocking(move || {
            // A poisoned lock only means a panic elsewhere mid-check; the handle is still whole.
            let mut guard = cluster.lock().unwrap_or_else(|e| e.into_inner());
            let Some(pg) = guard.as_mut() else {
                return Check::Running;
            };
            if !pg.has_stopped() {
                return Check::Running;
            }
            tracing::error!(
                port = pg.port(),
                "the embedded PostgreSQL cluster stopped unexpectedly; starting it again"
            );
            match pg.restart() {
                Ok(()) => Check::Restarted,
                Err(e) => Check::RestartFailed(e.to_string()),
            }
        })
        .await;
        checked.unwrap_or_else(|e| Check::RestartFailed(format!("the check panicked: {e}")))
    }

    /// Checks every `interval` until `cancel` fires; after a failed restart, waits twice as
    /// long as the last time (at most 30 s) before trying again.
    pub async fn run(mut self, interval: Duration, cancel: CancellationToken) {
        self.interval = interval;
        self.wait = interval;
        jobs::run(self, Schedule::every(interval), cancel).await
    }
}

impl Job for PgSupervisor {
    async fn step(&mut self, _: &CancellationToken) -> Option<Duration> {
        match self.run_once().await {
            Check::Running => {}
            Check::Restarted => {
                metrics::counter!("salgate_embedded_postgres_restarts_total").increment(1);
                tracing::warn!("the embedded PostgreSQL cluster is running again");
            }
            Check::RestartFailed(e) => {
                self.wait = (self.wait * 2).min(MAX_BACKOFF.max(self.interval));
                tracing::error!(
                    error = %e,
                    retry_in_ms = self.wait.as_millis() as u64,
                    "could not start the embedded PostgreSQL cluster again"
                );
                return Some(self.wait);
            }
        }
        self.wait = self.interval;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::embedded::tests::{dir_for_test, kill_postmaster, options_for_test};

    #[tokio::test]
    async fn a_check_starts_a_killed_cluster_again_and_leaves_a_running_one_alone() {
        let dir = dir_for_test("supervised");
        let pg = EmbeddedPostgres::start(options_for_test("supervised", false)).unwrap();
        let port = pg.port();
        kill_postmaster(&pg);
        let cluster: SharedCluster = Arc::new(Mutex::new(Some(pg)));
        let supervisor = PgSupervisor::new(cluster.clone());

        // The watchdog notices the death within moments; until then a check sees it running.
        let mut restarted = false;
        for _ in 0..500 {
            match supervisor.run_once().await {
                Check::Running => tokio::time::sleep(Duration::from_millis(20)).await,
                Check::Restarted => {
                    restarted = true;
                    break;
                }
                Check::RestartFailed(e) => panic!("restart failed: {e}"),
            }
        }
        assert!(restarted, "the killed cluster was not started again");
        assert_eq!(supervisor.run_once().await, Check::Running);
        let pg = cluster.lock().unwrap().take().unwrap();
        assert_eq!(pg.port(), port);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

        // Taken out (as `Database::close` does before stopping it): nothing to supervise.
        pg.stop().unwrap();
        assert_eq!(supervisor.run_once().await, Check::Running);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
