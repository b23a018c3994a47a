//! The service's background tasks in one [`TaskTracker`], drained together at shutdown.

use std::future::Future;

use tokio::{task::JoinHandle, time::Instant};
use tokio_util::task::TaskTracker;

/// Background tasks, each with a name for the log should it not stop in time.
#[derive(Default)]
pub struct Tasks {
    tracker: TaskTracker,
    named: Vec<(&'static str, JoinHandle<()>)>,
}

impl Tasks {
    pub fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.tracker.spawn(task);
        self.named.push((name, handle));
    }

    /// Spawns a task whose result the caller awaits itself; it is drained with the others.
    pub fn spawn_joined<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> JoinHandle<T> {
        self.tracker.spawn(task)
    }

    /// Waits for every task to end, but not past `deadline`: one limit for all of them, however
    /// many are slow. Returns the names of those still running then (they are left to end with
    /// the runtime).
    pub async fn drain(self, deadline: Instant) -> Vec<&'static str> {
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return Vec::new();
        }
        self.named
            .into_iter()
            .filter(|(_, handle)| !handle.is_finished())
            .map(|(name, _)| name)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::jobs::{run, Job, Schedule};

    /// A job whose step takes an hour and never looks at the cancellation.
    struct Stuck;

    impl Job for Stuck {
        async fn step(&mut self, _: &CancellationToken) -> Option<Duration> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        }
    }

    /// A job whose steps are quick.
    struct Quick;

    impl Job for Quick {
        async fn step(&mut self, _: &CancellationToken) -> Option<Duration> {
            None
        }
    }

    const LIMIT: Duration = Duration::from_millis(400);

    fn every_10ms() -> Schedule {
        Schedule {
            first: Duration::ZERO,
            every: Duration::from_millis(10),
        }
    }

    #[tokio::test]
    async fn jobs_stuck_in_a_step_that_ignores_cancellation_share_one_drain_limit() {
        let cancel = CancellationToken::new();
        let mut tasks = Tasks::default();
        tasks.spawn("first stuck", run(Stuck, every_10ms(), cancel.clone()));
        tasks.spawn("quick", run(Quick, every_10ms(), cancel.clone()));
        tasks.spawn("second stuck", run(Stuck, every_10ms(), cancel.clone()));
        tasks.spawn("third stuck", run(Stuck, every_10ms(), cancel.clone()));
        // Every job is in a step (the stuck ones for good).
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
        let started = Instant::now();
        let late = tasks.drain(started + LIMIT).await;
        let took = started.elapsed();
        // One limit each would take three times it.
        assert!(
            took < LIMIT * 2,
            "shutdown took {took:?}, the limit is {LIMIT:?}"
        );
        assert!(took >= LIMIT, "returned after {took:?}, before the limit");
        assert_eq!(late, ["first stuck", "second stuck", "third stuck"]);
    }

    #[tokio::test]
    async fn jobs_that_stop_when_cancelled_are_drained_at_once() {
        let cancel = CancellationToken::new();
        let mut tasks = Tasks::default();
        tasks.spawn("quick", run(Quick, every_10ms(), cancel.clone()));
        let served = tasks.spawn_joined(async { 7 });
        tokio::time::sleep(Duration::from_millis(30)).await;
        cancel.cancel();
        let started = Instant::now();
        assert!(tasks.drain(started + LIMIT).await.is_empty());
        assert!(started.elapsed() < LIMIT);
        assert_eq!(served.await.unwrap(), 7);
    }
}
