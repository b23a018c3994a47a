//! The periodic background jobs every replica runs, and the settings they run with.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{
    config::Settings,
    db::webhook_dispatch::PauseAfter,
    http::AppState,
    jobs::{
        cycle_compactor::CycleCompactor,
        dispatcher::Dispatcher,
        model_trainer::ModelTrainer,
        partitions::PartitionJob,
        retention::{Retention, RetentionJob},
        sla_scanner::SlaScanner,
        Tasks,
    },
};

/// How the periodic jobs run.
pub(super) struct JobSettings {
    pub(super) sla_scan_interval: Duration,
    pub(super) sla_scan_batch: i64,
    pub(super) metrics_compact_interval: Duration,
    pub(super) outbox_poll_interval: Duration,
    pub(super) webhook_concurrency: usize,
    pub(super) webhook_pause: PauseAfter,
    pub(super) retention: Retention,
    pub(super) retention_interval: Duration,
    pub(super) notify_poll_interval: Duration,
    pub(super) crm_poll_interval: Duration,
    pub(super) read_lag_interval: Duration,
}

/// The periodic jobs. The scanner stops between batches (a batch is one transaction); a
/// delivery in flight finishes (5 s timeout) or is sent again later.
pub(super) fn spawn_periodic_jobs(
    tasks: &mut Tasks,
    state: &AppState,
    jobs: &JobSettings,
    shutdown: &CancellationToken,
) {
    let (db, clock) = (&state.db, &state.clock);
    let mut scanner = SlaScanner::new(db.clone(), clock.clone());
    scanner.batch = jobs.sla_scan_batch;
    let dispatcher = Dispatcher::new(db.clone(), clock.clone())
        .with_policy(state.outbound)
        .with_concurrency(jobs.webhook_concurrency)
        .with_pause(jobs.webhook_pause);
    let compactor = CycleCompactor::new(db.clone(), clock.clone());
    let purge = RetentionJob::new(db.clone(), clock.clone(), jobs.retention);
    let trainer = ModelTrainer::new(
        db.clone(),
        clock.clone(),
        state.service.model_settings,
        state.service.model.clone(),
    );
    let cancel = || shutdown.clone();
    tasks.spawn(
        "the SLA scanner",
        scanner.run(jobs.sla_scan_interval, cancel()),
    );
    tasks.spawn(
        "the webhook dispatcher",
        dispatcher.run(jobs.outbox_poll_interval, cancel()),
    );
    tasks.spawn(
        "the cycle compactor",
        compactor.run(jobs.metrics_compact_interval, cancel()),
    );
    tasks.spawn(
        "the retention purge",
        purge.run(jobs.retention_interval, cancel()),
    );
    tasks.spawn("the model trainer", trainer.run(cancel()));
    let partitions = PartitionJob::new(db.clone(), clock.clone());
    tasks.spawn("the partition job", partitions.run(cancel()));
}

impl JobSettings {
    pub(super) fn from_settings(settings: &Settings) -> JobSettings {
        JobSettings {
            sla_scan_interval: settings.sla_scan_interval,
            sla_scan_batch: settings.sla_scan_batch,
            metrics_compact_interval: settings.metrics_compact_interval,
            outbox_poll_interval: settings.outbox_poll_interval,
            webhook_concurrency: settings.webhook_concurrency,
            webhook_pause: PauseAfter {
                failures: settings.webhook_pause_after_failures,
                failing_for: settings.webhook_pause_after,
            },
            retention: settings.retention,
            retention_interval: settings.retention_interval,
            notify_poll_interval: settings.notify_poll_interval,
            crm_poll_interval: settings.crm.poll_interval,
            read_lag_interval: settings
                .read_replica
                .as_ref()
                .map_or(Duration::from_secs(1), |r| r.lag_interval),
        }
    }
}
