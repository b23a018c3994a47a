//! The webhook dispatcher: sends the deliveries the outbox trigger wrote, at least once and in
//! order per lead and subscription. A claim is a lease committed before the POST (no
//! transaction or lock is held across the network call); the attempt is recorded afterwards.
//! A dispatcher that dies mid-send leaves its leases to run out: the deliveries are sent again.
//!
//! Each subscription has its own lane with a fair share of the replica's in-flight POSTs, and a
//! lane whose receiver has not answered only probes it (see [`lanes`]), so a receiver that never
//! answers holds two slots; within a lane, different leads are sent concurrently (one at a time per
//! lead: only heads are claimable).

mod envelope;
mod lanes;

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::{sync::Semaphore, task::JoinSet};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    clock::Clock,
    db::webhook_dispatch::{self as queue, AttemptResult, Claimed, PauseAfter},
    domain::{signature, webhook::next_attempt},
    jobs::{self, Job, Schedule},
    outbound::Policy,
};

/// Receivers must answer within this (docs/api.md §7).
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a claim holds a delivery: well past [`TIMEOUT`], so that a live dispatcher records
/// its attempt before another may claim it again.
pub const LEASE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Dispatcher {
    pub db: sqlx::PgPool,
    pub clock: Arc<dyn Clock>,
    http: reqwest::Client,
    policy: Policy,
    concurrency: usize,
    pause: PauseAfter,
    permits: Arc<Semaphore>,
    lanes: Arc<lanes::Lanes>,
}

/// What one attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// Failed; will be retried.
    Failed,
    /// Failed for the last time (24 h after the event).
    Dead,
    /// Sent, but its lease had run out and another claim owns it (recorded as an attempt).
    Lost,
}

/// Totals of a drain.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub delivered: u64,
    pub failed: u64,
    pub dead: u64,
    pub lost: u64,
}

impl Totals {
    fn add(&mut self, s: Sent) {
        match s {
            Sent::Delivered => self.delivered += 1,
            Sent::Failed => self.failed += 1,
            Sent::Dead => self.dead += 1,
            Sent::Lost => self.lost += 1,
        }
    }

    fn merge(&mut self, o: Totals) {
        self.delivered += o.delivered;
        self.failed += o.failed;
        self.dead += o.dead;
        self.lost += o.lost;
    }
}

impl Dispatcher {
    /// Public https targets only, 32 POSTs in flight, paused after 10 failures over 10 min.
    pub fn new(db: sqlx::PgPool, clock: Arc<dyn Clock>) -> Self {
        Self::build(db, clock, Policy::default())
    }

    fn build(db: sqlx::PgPool, clock: Arc<dyn Clock>, policy: Policy) -> Self {
        // Runs once at start-up, not per request: fails only if TLS cannot initialize.
        let http = policy.client(TIMEOUT).expect("the TLS backend initializes");
        Dispatcher {
            db,
            clock,
            http,
            policy,
            concurrency: 32,
            pause: PauseAfter {
                failures: 10,
                failing_for: Duration::from_secs(600),
            },
            permits: Arc::new(Semaphore::new(32)),
            lanes: Arc::default(),
        }
    }

    pub fn with_policy(self, policy: Policy) -> Self {
        let Dispatcher {
            db,
            clock,
            concurrency,
            pause,
            ..
        } = self;
        Self::build(db, clock, policy)
            .with_concurrency(concurrency)
            .with_pause(pause)
    }

    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self.permits = Arc::new(Semaphore::new(self.concurrency));
        self
    }

    pub fn with_pause(mut self, pause: PauseAfter) -> Self {
        self.pause = pause;
        self
    }

    /// Sends one due delivery, if any (tests step with it).
    pub async fn run_once(&self) -> Result<Option<Sent>, sqlx::Error> {
        for sub in queue::active_subscriptions(&self.db).await? {
            if let Some(d) = self.claim(sub, 1).await?.pop() {
                return self.send(d).await.map(Some);
            }
        }
        Ok(None)
    }

    /// Sends until nothing is due (or cancelled), every subscription in its own lane.
    pub async fn drain(&self, cancel: &CancellationToken) -> Result<Totals, sqlx::Error> {
        let subs = queue::active_subscriptions(&self.db).await?;
        let mut lanes = JoinSet::new();
        for sub in subs {
            lanes.spawn(self.clone().lane(sub, cancel.clone()));
        }
        let mut t = Totals::default();
        while let Some(done) = lanes.join_next().await {
            t.merge(lane_result(done)?);
        }
        Ok(t)
    }

    /// Every `interval`, starts a lane for each active subscription that has none running, until
    /// `cancel` fires; then waits for the lanes, which stop claiming and finish their POSTs.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        let schedule = Schedule {
            first: Duration::ZERO,
            every: interval,
        };
        let job = Lanes {
            dispatcher: self,
            running: HashMap::new(),
        };
        jobs::run(job, schedule, cancel).await
    }

    /// Sends one subscription's due deliveries, as many at once as its lane may, until none is
    /// due. Claims again when half the lane is free, so claims are batches.
    async fn lane(self, sub: Uuid, cancel: CancellationToken) -> Result<Totals, sqlx::Error> {
        let seat = self.lanes.join(sub);
        let mut t = Totals::default();
        let mut inflight = JoinSet::new();
        loop {
            let target = self.lanes.target(sub, self.concurrency);
            if !cancel.is_cancelled() && inflight.len() <= target / 2 {
                let permits = self.permits(target - inflight.len(), &cancel).await;
                let claimed = self.claim(sub, permits.len()).await?;
                for (d, permit) in claimed.into_iter().zip(permits) {
                    let me = self.clone();
                    inflight.spawn(async move {
                        let sent = me.send(d).await;
                        drop(permit);
                        sent
                    });
                }
            }
            let Some(done) = inflight.join_next().await else {
                return Ok(t);
            };
            // Nothing in flight and nothing claimed: done. Else a delivery done may have made
            // the next one of its lead due: claim again.
            let sent = lane_result(done)?;
            if sent != Sent::Lost {
                seat.set_failing(sent != Sent::Delivered);
            }
            t.add(sent);
        }
    }

    /// Up to `n` of the replica's permits: waits for the first, takes what is free beyond it.
    async fn permits(
        &self,
        n: usize,
        cancel: &CancellationToken,
    ) -> Vec<tokio::sync::OwnedSemaphorePermit> {
        let first = tokio::select! {
            p = self.permits.clone().acquire_owned() => p,
            _ = cancel.cancelled() => return Vec::new(),
        };
        let mut out: Vec<_> = first.into_iter().collect();
        while out.len() < n {
            match self.permits.clone().try_acquire_owned() {
                Ok(p) => out.push(p),
                Err(_) => break,
            }
        }
        out
    }

    async fn claim(&self, sub: Uuid, n: usize) -> Result<Vec<Claimed>, sqlx::Error> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let until = now + chrono::Duration::seconds(LEASE.as_secs() as i64);
        queue::claim(&self.db, sub, now, until, n as i64).await
    }

    /// Posts one claimed delivery and records the attempt.
    async fn send(&self, d: Claimed) -> Result<Sent, sqlx::Error> {
        let now = self.clock.now();
        let started = std::time::Instant::now();
        let (status_code, error) = match self.policy.check_url(&d.url) {
            Err(why) => (None, Some(format!("refused: the URL {why}"))),
            Ok(url) => self.post(url, &d, now).await,
        };
        let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        let attempts = u32::try_from(d.attempts).unwrap_or(0) + 1;
        let retry_at = match error {
            None => None,
            Some(_) => next_attempt(d.created_at, now, attempts, rand::random::<f64>()),
        };
        let result = AttemptResult {
            at: now,
            status_code,
            error: error.as_deref(),
            duration_ms,
            retry_at,
        };
        let status = queue::record(&self.db, &d, &result, self.pause).await?;
        let sent = match status.as_str() {
            "delivered" => Sent::Delivered,
            "pending" => Sent::Failed,
            "dead" => Sent::Dead,
            _ => Sent::Lost,
        };
        let label = match sent {
            Sent::Delivered => "delivered",
            Sent::Failed => "failed",
            Sent::Dead => "dead",
            Sent::Lost => "lost",
        };
        metrics::counter!("salgate_webhook_attempts_total", "result" => label).increment(1);
        Ok(sent)
    }

    /// The POST: status code of the answer, and the error when it is not a success.
    async fn post(
        &self,
        url: reqwest::Url,
        d: &Claimed,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (Option<u16>, Option<String>) {
        let body = envelope::envelope(d);
        let answer = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("salgate-event-id", d.event_id.to_string())
            .header("salgate-event-type", &d.event_type)
            .header(
                "salgate-signature",
                signature::header(&d.secret, now, &body),
            )
            .body(body)
            .send()
            .await;
        match answer {
            Ok(res) if res.status().is_success() => (Some(res.status().as_u16()), None),
            // Redirects are not followed: a 3xx is a failed attempt like any other.
            Ok(res) => (
                Some(res.status().as_u16()),
                Some(format!("receiver answered {}", res.status())),
            ),
            Err(e) if e.is_timeout() => (None, Some("no answer within 5 s".to_string())),
            Err(e) => (None, Some(format!("could not deliver: {}", causes(&e)))),
        }
    }
}

/// An error with its causes (a refused address is a few levels down a reqwest error).
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out = format!("{out}: {s}");
        }
        cur = c.source();
    }
    out
}

/// The dispatcher's loop: the lanes it has started, by subscription.
struct Lanes {
    dispatcher: Dispatcher,
    running: HashMap<Uuid, tokio::task::JoinHandle<Result<Totals, sqlx::Error>>>,
}

impl Job for Lanes {
    async fn step(&mut self, cancel: &CancellationToken) -> Option<Duration> {
        let finished: Vec<Uuid> = self
            .running
            .iter()
            .filter(|(_, h)| h.is_finished())
            .map(|(id, _)| *id)
            .collect();
        for id in finished {
            if let Some(h) = self.running.remove(&id) {
                log_lane(id, h.await);
            }
        }
        let subs = match queue::active_subscriptions(&self.dispatcher.db).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatch failed; retrying");
                return None;
            }
        };
        for sub in subs {
            let d = &self.dispatcher;
            self.running
                .entry(sub)
                .or_insert_with(|| tokio::spawn(d.clone().lane(sub, cancel.clone())));
        }
        None
    }

    async fn finish(self) {
        for (id, h) in self.running {
            log_lane(id, h.await);
        }
    }
}

fn lane_result<T>(
    done: Result<Result<T, sqlx::Error>, tokio::task::JoinError>,
) -> Result<T, sqlx::Error> {
    done.unwrap_or_else(|e| {
        Err(sqlx::Error::Protocol(format!(
            "webhook lane task failed: {e}"
        )))
    })
}

fn log_lane(sub: Uuid, done: Result<Result<Totals, sqlx::Error>, tokio::task::JoinError>) {
    match lane_result(done) {
        Ok(t) if t.failed + t.dead + t.lost > 0 => tracing::warn!(
            subscription = %sub,
            delivered = t.delivered,
            failed = t.failed,
            dead = t.dead,
            lost = t.lost,
            "webhook deliveries failed"
        ),
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(subscription = %sub, error = %e, "webhook dispatch failed; retrying")
        }
    }
}
