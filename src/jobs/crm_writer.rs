//! The CRM writer: sends the write-backs the `lead_history_crm_writeback` trigger wrote to
//! HubSpot and Salesforce (docs/crm.md), at least once, in order per lead. A claim is a lease
//! committed before the call (no transaction or lock is held across it); only each lead's
//! earliest pending row is claimable, and the rows claimed together (of different leads) go
//! in one batch call. The outcome is recorded afterwards, per record, only while the lease
//! still holds: a record the CRM refused is `failed` with the CRM's message, a failed call is
//! retried with backoff (a 429 exactly after its `Retry-After`) until the attempts run out.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    crm::{CallError, CrmClient, CrmMapping, RecordResult, Update},
    db::crm::{self as outbox, Attempt, Claimed},
    domain::notify::retry_delay,
    jobs::{self, Job, Schedule},
};

/// How long a claim holds a row: past the call's own timeout (and a token fetch before it).
pub const LEASE: Duration = Duration::from_secs(120);
/// A write-back that failed this many times is `failed` (about 4.5 h of retries in all).
pub const MAX_ATTEMPTS: u32 = 15;

/// What one record's attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Sent,
    /// The call failed; retried with backoff.
    Retried,
    /// The CRM asked (429) for a later attempt at an exact time.
    RateLimited,
    /// The CRM refused the record, or the attempts ran out.
    Failed,
    /// Its lease had run out and another claim owns it (nothing recorded).
    Lost,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Sent,
        Outcome::Retried,
        Outcome::RateLimited,
        Outcome::Failed,
        Outcome::Lost,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retried => "retried",
            Outcome::RateLimited => "rate_limited",
            Outcome::Failed => "failed",
            Outcome::Lost => "lost",
        }
    }
}

/// What a step did: how many records ended each way, and the calls made.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    pub outcomes: HashMap<&'static str, u64>,
    pub calls: u64,
}

impl Step {
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(o.label()).copied().unwrap_or(0)
    }

    /// Records attempted.
    pub fn records(&self) -> u64 {
        self.outcomes.values().sum()
    }
}

/// One CRM the writer sends to, with its mapping.
pub struct Target {
    pub client: CrmClient,
    pub mapping: CrmMapping,
}

#[derive(Clone)]
pub struct CrmWriter {
    pub db: sqlx::PgPool,
    pub clock: Arc<dyn Clock>,
    targets: Arc<Vec<Target>>,
    /// Rows claimed (and sent in one call) at once per CRM, at most its batch limit.
    batch: usize,
    max_attempts: u32,
}

impl CrmWriter {
    pub fn new(db: sqlx::PgPool, clock: Arc<dyn Clock>, targets: Vec<Target>) -> Self {
        CrmWriter {
            db,
            clock,
            targets: Arc::new(targets),
            batch: usize::MAX,
            max_attempts: MAX_ATTEMPTS,
        }
    }

    /// At most `n` records per call (1: no batching).
    pub fn with_batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Tells the outbox trigger which CRMs to write rows for (start-up).
    pub async fn announce(&self) -> Result<(), sqlx::Error> {
        let on = |k| self.targets.iter().any(|t| t.client.kind() == k);
        outbox::set_targets(
            &self.db,
            on(crate::crm::CrmKind::Hubspot),
            on(crate::crm::CrmKind::Salesforce),
        )
        .await
    }

    /// One claim and one call per CRM (tests step with it).
    pub async fn run_once(&self) -> Result<Step, sqlx::Error> {
        let mut step = Step::default();
        for t in self.targets.iter() {
            let n = self.batch.min(t.client.max_batch());
            let now = self.clock.now();
            let lease_until = now + chrono_of(LEASE);
            let claimed = outbox::claim(
                &self.db,
                t.client.kind().as_str(),
                now,
                lease_until,
                n as i64,
            )
            .await?;
            if claimed.is_empty() {
                continue;
            }
            step.calls += 1;
            for o in self.send(t, &claimed).await? {
                *step.outcomes.entry(o.label()).or_default() += 1;
            }
        }
        Ok(step)
    }

    /// Steps until nothing is due or `cancel` fires.
    pub async fn drain(&self, cancel: &CancellationToken) -> Result<Step, sqlx::Error> {
        let mut total = Step::default();
        while !cancel.is_cancelled() {
            let step = self.run_once().await?;
            if step.calls == 0 {
                break;
            }
            total.calls += step.calls;
            for (k, v) in step.outcomes {
                *total.outcomes.entry(k).or_default() += v;
            }
        }
        Ok(total)
    }

    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        jobs::run(self, Schedule::every(interval), cancel).await
    }

    /// Sends the claimed rows in one call and records each one's outcome.
    async fn send(&self, t: &Target, claimed: &[Claimed]) -> Result<Vec<Outcome>, sqlx::Error> {
        let updates: Vec<Update> = claimed
            .iter()
            .map(|c| Update {
                record_id: c.record_id.clone(),
                properties: t.mapping.properties(&c.fields),
            })
            .collect();
        let answer = match tokio::time::timeout(LEASE / 2, t.client.write(&updates)).await {
            Ok(a) => a,
            Err(_) => Err(CallError::Transient("no answer within 60 s".into())),
        };
        let now = self.clock.now();
        let mut out = Vec::with_capacity(claimed.len());
        for (i, c) in claimed.iter().enumerate() {
            let attempts = u32::try_from(c.attempts).unwrap_or(0) + 1;
            let (outcome, status, retry_at, error) = match &answer {
                Ok(results) => match results.get(i) {
                    Some(RecordResult::Written) => (Outcome::Sent, "sent", None, None),
                    Some(RecordResult::Refused(why)) => {
                        (Outcome::Failed, "failed", None, Some(why.clone()))
                    }
                    None => self.retry(attempts, now, "the CRM gave no answer for it".into()),
                },
                Err(CallError::RateLimited(wait)) => (
                    Outcome::RateLimited,
                    "pending",
                    Some(now + chrono_of(*wait)),
                    Some(format!(
                        "rate limited (429), retry after {} s",
                        wait.as_secs()
                    )),
                ),
                Err(CallError::Transient(why)) => self.retry(attempts, now, why.clone()),
            };
            let attempt = Attempt {
                at: now,
                status,
                retry_at,
                error: error.as_deref(),
            };
            let stored = outbox::record(&self.db, c, &attempt).await?;
            let outcome = if stored == "lost" {
                Outcome::Lost
            } else {
                outcome
            };
            metrics::counter!("salgate_crm_writebacks_total",
                "crm" => t.client.kind().as_str(), "outcome" => outcome.label())
            .increment(1);
            out.push(outcome);
        }
        Ok(out)
    }

    /// A retry after backoff, or `failed` once the attempts have run out.
    fn retry(
        &self,
        attempts: u32,
        now: chrono::DateTime<chrono::Utc>,
        why: String,
    ) -> (
        Outcome,
        &'static str,
        Option<chrono::DateTime<chrono::Utc>>,
        Option<String>,
    ) {
        match retry_delay(attempts, self.max_attempts, rand::random::<f64>()) {
            Some(wait) => (
                Outcome::Retried,
                "pending",
                Some(now + chrono_of(wait)),
                Some(why),
            ),
            None => (Outcome::Failed, "failed", None, Some(why)),
        }
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Job for CrmWriter {
    async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        if let Err(e) = self.drain(cancel).await {
            tracing::warn!(error = %e, "CRM write-back failed; retrying");
        }
        None
    }
}
