//! The SLA scanner: flags `sla_at_risk`, `sla_breached` and `first_touch_breached` once per
//! lead and cycle. Correct with any number of replicas: rows are claimed with
//! `FOR UPDATE SKIP LOCKED` and each flag is set only where it is still unset, in the same
//! statement that appends its history event.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::{
        routing::{self, Escalated},
        sla::{self, ScanCounts},
    },
    jobs::{self, Job, Schedule},
    policy_cache::PolicyCache,
};

/// Leads claimed per statement; a scan repeats batches until nothing is due.
pub const BATCH: i64 = 1000;

pub struct SlaScanner {
    pub db: PgPool,
    pub clock: Arc<dyn Clock>,
    pub batch: i64,
    /// Policies give an escalated owner its own accept deadline.
    policies: PolicyCache,
}

/// The result of one step.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub counts: ScanCounts,
    /// Escalation steps applied: reassigned to the next untried rep.
    pub reassigned: i64,
    /// A full batch was claimed: more may be due right now.
    pub more: bool,
}

impl SlaScanner {
    pub fn new(db: PgPool, clock: Arc<dyn Clock>) -> Self {
        SlaScanner {
            db,
            clock,
            batch: BATCH,
            policies: PolicyCache::new(Duration::from_secs(5)),
        }
    }

    /// One batch at the clock's current time: flag what came due, then apply the escalation
    /// steps that are due (a `reassign` breach is due for its first step at once).
    pub async fn run_once(&self) -> Result<Outcome, sqlx::Error> {
        let now = self.clock.now();
        let mut counts = sla::scan_due(&self.db, now, self.batch).await?;
        let due = routing::escalations_due(&self.db, now, self.batch).await?;
        let mut reassigned = 0;
        if !due.is_empty() {
            let policies = self.policies.get(&self.db).await?;
            for lead in &due {
                let name = lead.sla_policy.as_deref().unwrap_or(&lead.lead_type);
                let Some(policy) = policies.resolve(name, lead.queue.as_deref()) else {
                    continue;
                };
                let deadline = crate::domain::working_time::add_working(
                    policy.calendar.as_deref(),
                    now,
                    policy.accept_within,
                );
                match routing::escalate(&self.db, lead, now, deadline).await? {
                    Escalated::Reassigned => reassigned += 1,
                    Escalated::ReturnedToQueue => counts.returned_to_queue += 1,
                    Escalated::Skipped => {}
                }
            }
        }
        Ok(Outcome {
            counts,
            reassigned,
            more: counts.leads >= self.batch || due.len() as i64 >= self.batch,
        })
    }

    /// Runs batches until nothing is due (or cancelled between batches); returns the totals.
    pub async fn drain(&self, cancel: &CancellationToken) -> Result<ScanCounts, sqlx::Error> {
        let mut total = ScanCounts::default();
        loop {
            let o = self.run_once().await?;
            total.leads += o.counts.leads;
            total.at_risk += o.counts.at_risk;
            total.breached += o.counts.breached;
            total.first_touch_breached += o.counts.first_touch_breached;
            total.returned_to_queue += o.counts.returned_to_queue;
            total.reassigned += o.reassigned;
            if !o.more || cancel.is_cancelled() {
                return Ok(total);
            }
        }
    }

    /// Scans every `interval`, the first one `interval` after start, until `cancel` fires.
    /// Errors are logged and retried next tick.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        jobs::run(self, Schedule::every(interval), cancel).await
    }
}

impl Job for SlaScanner {
    async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        let drained = self.drain(cancel).await;
        if let Ok(t) = &drained {
            for (kind, n) in [
                ("sla_at_risk", t.at_risk),
                ("sla_breached", t.breached),
                ("first_touch_breached", t.first_touch_breached),
                ("returned_to_queue", t.returned_to_queue),
                ("reassigned", t.reassigned),
            ] {
                metrics::counter!("salgate_sla_events_total", "kind" => kind).increment(n as u64);
            }
        }
        match drained {
            Ok(t) if t.leads > 0 => tracing::info!(
                leads = t.leads,
                at_risk = t.at_risk,
                breached = t.breached,
                first_touch_breached = t.first_touch_breached,
                returned_to_queue = t.returned_to_queue,
                "sla scan flagged leads"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sla scan failed; retrying next interval"),
        }
        None
    }
}
