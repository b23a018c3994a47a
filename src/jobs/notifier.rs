//! The notification dispatcher: sends the rows the `lead_history_notify` trigger wrote, at
//! least once, each through its channel's transport. A claim is a lease committed before the
//! send (no transaction or lock is held across the network call); the outcome is recorded
//! afterwards only while the lease still holds. A channel without a transport on this replica
//! is not claimed: its rows wait (and the list says so), they are never dropped.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::notifications::{self as outbox, Attempt, Claimed},
    domain::notify::{retry_delay, MAX_ATTEMPTS},
    jobs::{self, Job, Schedule},
    notify::{Channel, Delivered, Transport},
};

/// How long a claim holds a row: past any transport's own timeout, so a live dispatcher
/// records its attempt before another may claim the row again.
pub const LEASE: Duration = Duration::from_secs(120);
/// A transport that has not answered by then has failed this attempt.
pub const DELIVER_TIMEOUT: Duration = Duration::from_secs(60);

/// What one attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed; retried with backoff.
    Failed,
    /// The transport asked for a later attempt at an exact time.
    RetryAfter,
    /// Rejected, or failed for the last time.
    Dead,
    /// Its lease had run out and another claim owns it (nothing recorded).
    Lost,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::RetryAfter => "retry_after",
            Outcome::Dead => "dead",
            Outcome::Lost => "lost",
        }
    }
}

#[derive(Clone)]
pub struct Notifier {
    pub db: sqlx::PgPool,
    pub clock: Arc<dyn Clock>,
    slack: Option<Arc<dyn Transport>>,
    email: Option<Arc<dyn Transport>>,
    max_attempts: u32,
    /// Rows claimed (and sent concurrently) at once.
    batch: i64,
}

impl Notifier {
    pub fn new(
        db: sqlx::PgPool,
        clock: Arc<dyn Clock>,
        slack: Option<Arc<dyn Transport>>,
        email: Option<Arc<dyn Transport>>,
    ) -> Self {
        Notifier {
            db,
            clock,
            slack,
            email,
            max_attempts: MAX_ATTEMPTS,
            batch: 32,
        }
    }

    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The channels this replica can send on.
    pub fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.slack.is_some() {
            out.push(Channel::Slack);
        }
        if self.email.is_some() {
            out.push(Channel::Email);
        }
        out
    }

    fn transport(&self, c: Channel) -> Option<&Arc<dyn Transport>> {
        match c {
            Channel::Slack => self.slack.as_ref(),
            Channel::Email => self.email.as_ref(),
        }
    }

    /// Tells the outbox trigger which channels to write rows for (start-up).
    pub async fn announce(&self) -> Result<(), sqlx::Error> {
        outbox::set_channels(&self.db, self.slack.is_some(), self.email.is_some()).await
    }

    /// Sends one due notification, if any (tests step with it).
    pub async fn run_once(&self) -> Result<Option<Outcome>, sqlx::Error> {
        match self.claim(1).await?.pop() {
            Some(c) => self.send(c).await.map(Some),
            None => Ok(None),
        }
    }

    /// Sends until nothing is due or `cancel` fires, a batch at a time.
    pub async fn drain(&self, cancel: &CancellationToken) -> Result<u64, sqlx::Error> {
        let mut done = 0;
        while !cancel.is_cancelled() {
            let claimed = self.claim(self.batch).await?;
            if claimed.is_empty() {
                break;
            }
            let mut inflight = JoinSet::new();
            for c in claimed {
                let me = self.clone();
                inflight.spawn(async move { me.send(c).await });
            }
            while let Some(r) = inflight.join_next().await {
                r.map_err(|e| sqlx::Error::Protocol(format!("notification task failed: {e}")))??;
                done += 1;
            }
        }
        Ok(done)
    }

    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        jobs::run(self, Schedule::every(interval), cancel).await
    }

    async fn claim(&self, n: i64) -> Result<Vec<Claimed>, sqlx::Error> {
        let channels = self.channels();
        if channels.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        outbox::claim(&self.db, &channels, now, now + chrono_of(LEASE), n).await
    }

    /// Delivers one claimed row and records the outcome.
    async fn send(&self, c: Claimed) -> Result<Outcome, sqlx::Error> {
        let n = &c.notification;
        let delivered = match self.transport(n.channel) {
            Some(t) => match tokio::time::timeout(DELIVER_TIMEOUT, t.deliver(n)).await {
                Ok(d) => d,
                Err(_) => Delivered::Failed("no answer within 60 s".into()),
            },
            // Claimed only for channels with a transport; should that change, it waits.
            None => Delivered::Failed(format!("no {} transport", n.channel.as_str())),
        };
        let now = self.clock.now();
        let attempts = u32::try_from(n.attempts).unwrap_or(0) + 1;
        let (outcome, status, retry_at, error, external_ref) = match &delivered {
            Delivered::Sent { external_ref } => {
                (Outcome::Sent, "sent", None, None, external_ref.as_deref())
            }
            Delivered::RetryAfter(wait) => (
                Outcome::RetryAfter,
                "pending",
                Some(now + chrono_of(*wait)),
                Some("asked to retry later"),
                None,
            ),
            Delivered::Failed(why) => {
                match retry_delay(attempts, self.max_attempts, rand::random::<f64>()) {
                    Some(wait) => (
                        Outcome::Failed,
                        "pending",
                        Some(now + chrono_of(wait)),
                        Some(why.as_str()),
                        None,
                    ),
                    None => (Outcome::Dead, "dead", None, Some(why.as_str()), None),
                }
            }
            Delivered::Rejected(why) => (Outcome::Dead, "dead", None, Some(why.as_str()), None),
        };
        let attempt = Attempt {
            at: now,
            status,
            retry_at,
            error,
            external_ref,
        };
        let stored = outbox::record(&self.db, &c, &attempt).await?;
        let outcome = if stored == "lost" {
            Outcome::Lost
        } else {
            outcome
        };
        metrics::counter!("salgate_notifications_total",
            "channel" => n.channel.as_str(), "outcome" => outcome.label())
        .increment(1);
        Ok(outcome)
    }
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Job for Notifier {
    async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        if let Err(e) = self.drain(cancel).await {
            tracing::warn!(error = %e, "notification dispatch failed; retrying");
        }
        None
    }
}
