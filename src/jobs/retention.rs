//! The retention job: drops the outbox months wholly past retention (webhook deliveries with
//! their attempts, notifications; partitions, not rows), then deletes what is kept only for a
//! while (delivered and dead webhook deliveries with their attempts, CRM message receipts, idempotency records, used inbound
//! signatures, ended sessions and spent sign-in links, and optionally unused auto-registered reps) in batches of [`BATCH`] rows. Any
//! replica may run it at the same time as others (see `db::retention`). History is never
//! deleted.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::{
        idempotency, partitions,
        retention::{purge_batch, Purge},
    },
    jobs::{self, Job, Schedule},
};

/// Rows per delete statement: short locks, short transactions.
pub const BATCH: i64 = 5000;

/// How long an ended session (expired or signed out) and a spent sign-in link (used or
/// expired) are kept: the history names a session (`session:<id>`) and the session its link,
/// so for a month a decision can be traced to the link and who made it. An ended session's
/// token opens nothing, so keeping it that long costs only its row.
pub const SIGN_IN_KEEP: chrono::Duration = chrono::Duration::days(30);

/// How long each kind of row is kept; `None` keeps it forever (configured, `0`/`off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub webhooks: Option<Duration>,
    pub dead_webhooks: Option<Duration>,
    pub receipts: Option<Duration>,
    pub auto_reps: Option<Duration>,
}

pub struct RetentionJob {
    pub db: PgPool,
    pub clock: Arc<dyn Clock>,
    pub retention: Retention,
    pub batch: i64,
}

impl RetentionJob {
    pub fn new(db: PgPool, clock: Arc<dyn Clock>, retention: Retention) -> Self {
        RetentionJob {
            db,
            clock,
            retention,
            batch: BATCH,
        }
    }

    /// What is purged, and the cutoff of each, at `now`.
    fn plan(&self, now: DateTime<Utc>) -> Vec<(Purge, DateTime<Utc>)> {
        let r = self.retention;
        let before = |keep: Option<Duration>| {
            keep.and_then(|d| chrono::Duration::from_std(d).ok())
                .and_then(|d| now.checked_sub_signed(d))
        };
        let fixed = [
            (Purge::IdempotencyKeys, Some(now - idempotency::RETENTION)),
            // Signed requests are refused after 300 s anyway; keep 10 minutes of them.
            (
                Purge::InboundSignatures,
                Some(now - chrono::Duration::minutes(10)),
            ),
            (Purge::Sessions, Some(now - SIGN_IN_KEEP)),
            (Purge::SignInLinks, Some(now - SIGN_IN_KEEP)),
            (Purge::DeliveredWebhooks, before(r.webhooks)),
            (Purge::DeadWebhooks, before(r.dead_webhooks)),
            (Purge::SentNotifications, before(r.webhooks)),
            (Purge::DeadNotifications, before(r.dead_webhooks)),
            (Purge::Receipts, before(r.receipts)),
            (Purge::AutoRegisteredReps, before(r.auto_reps)),
        ];
        fixed
            .into_iter()
            .filter_map(|(p, cutoff)| cutoff.map(|c| (p, c)))
            .collect()
    }

    /// The outbox months wholly past retention, dropped whole (see [`partitions::drop_expired`]):
    /// only with both webhook retentions set (a month holds delivered and dead rows alike).
    /// Returns the partitions dropped.
    pub async fn drop_partitions(&self, now: DateTime<Utc>) -> Result<Vec<String>, sqlx::Error> {
        let plan = self.plan(now);
        let cutoff = |p: Purge| plan.iter().find(|(q, _)| *q == p).map(|(_, c)| *c);
        let (Some(sent), Some(dead)) = (
            cutoff(Purge::DeliveredWebhooks),
            cutoff(Purge::DeadWebhooks),
        ) else {
            return Ok(Vec::new());
        };
        let mut dropped = Vec::new();
        for table in partitions::DROPPED_BY_MONTH {
            let names = partitions::drop_expired(&self.db, table, sent, dead).await?;
            if !names.is_empty() {
                tracing::info!(table, partitions = ?names, "retention: expired months dropped");
                metrics::counter!("salgate_retention_dropped_partitions_total", "table" => table)
                    .increment(names.len() as u64);
            }
            dropped.extend(names);
        }
        Ok(dropped)
    }

    /// One pass: the expired outbox months dropped whole, then every enabled purge, batch
    /// after batch until a batch comes back short (or `cancel` fires); returns the rows
    /// deleted per purge (attempts under `webhook_attempts`) and, under `partitions`, the
    /// number of partitions dropped.
    pub async fn run_once(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Vec<(&'static str, u64)>, sqlx::Error> {
        let now = self.clock.now();
        let mut purged = vec![("partitions", self.drop_partitions(now).await?.len() as u64)];
        for (what, cutoff) in self.plan(now) {
            let (mut rows, mut attempts) = (0, 0);
            loop {
                let d = purge_batch(&self.db, what, cutoff, self.batch).await?;
                rows += d.rows;
                attempts += d.attempts;
                count(what.label(), d.rows);
                count("webhook_attempts", d.attempts);
                if d.rows < self.batch as u64 || cancel.is_cancelled() {
                    break;
                }
            }
            purged.push((what.label(), rows));
            if attempts > 0 {
                purged.push(("webhook_attempts", attempts));
            }
        }
        Ok(purged)
    }

    /// Purges every `interval` (the first pass a minute after start) until `cancel` fires; errors
    /// are logged and retried on the next tick.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        // Not at once: a replica that restarts does not purge on every start.
        let schedule = Schedule {
            first: interval.min(Duration::from_secs(60)),
            every: interval,
        };
        jobs::run(self, schedule, cancel).await
    }
}

impl Job for RetentionJob {
    async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        match self.run_once(cancel).await {
            Ok(purged) => {
                // Dropped months are logged by name where they are dropped.
                let rows_deleted = purged.into_iter().filter(|(t, _)| *t != "partitions");
                for (table, rows) in rows_deleted.filter(|(_, n)| *n > 0) {
                    tracing::info!(table, rows, "retention: old rows deleted");
                }
            }
            Err(e) => tracing::warn!(error = %e, "retention purge failed; retrying"),
        }
        None
    }
}

fn count(table: &'static str, rows: u64) {
    if rows > 0 {
        metrics::counter!("salgate_retention_purged_rows_total", "table" => table).increment(rows);
    }
}
