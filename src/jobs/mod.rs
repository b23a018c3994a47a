//! Background work. Each job has a step function (`run_once`) that tests call directly with a
//! controlled clock, and a loop ([`run`]) that repeats a step on a [`Schedule`] until cancelled.
//! [`Tasks`] holds every background task of the service, so that shutdown waits for all of them
//! under one limit instead of one limit each.

pub mod crm_writer;
pub mod cycle_compactor;
pub mod dispatcher;
pub mod key_listener;
pub mod model_trainer;
pub mod notifier;
pub mod partitions;
pub mod pg_supervisor;
pub mod replica_lag;
pub mod retention;
pub mod sla_scanner;
mod tasks;

use std::{future::Future, time::Duration};

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub use tasks::Tasks;

/// What a job loop repeats.
pub trait Job: Send + 'static {
    /// One step. A long step should stop early (between batches) once `cancel` has fired; one
    /// that does not is waited for at shutdown only up to the drain limit. Returns how long to
    /// wait before the next step when that is not the schedule's period (a backoff).
    fn step(&mut self, cancel: &CancellationToken)
        -> impl Future<Output = Option<Duration>> + Send;

    /// Runs once the loop has been cancelled (e.g. to wait for work the steps started).
    fn finish(self) -> impl Future<Output = ()> + Send
    where
        Self: Sized,
    {
        async {}
    }
}

/// When a job's steps run: the first `first` after start, then every `every` (a step that
/// overruns its period delays the next one rather than causing a burst).
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub first: Duration,
    pub every: Duration,
}

impl Schedule {
    /// The first step one period after start.
    pub fn every(every: Duration) -> Self {
        Schedule {
            first: every,
            every,
        }
    }
}

/// Repeats `job`'s step on `schedule` until `cancel` fires, then finishes it.
pub async fn run<J: Job>(mut job: J, schedule: Schedule, cancel: CancellationToken) {
    let mut tick = tokio::time::interval_at(Instant::now() + schedule.first, schedule.every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Some(wait) = job.step(&cancel).await {
            tick.reset_after(wait);
        }
    }
    job.finish().await;
}
