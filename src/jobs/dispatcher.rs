//! The webhook dispatcher: sends the deliveries the outbox trigger wrote, at least once and in
//! order per lead and subscription. Each delivery is claimed with `FOR UPDATE SKIP LOCKED` and
//! the lock is held while it is sent (5 s timeout), so replicas never send one concurrently; a
//! dispatcher that dies mid-send leaves it pending, to be sent again.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    db::{
        leads::Lead,
        webhooks::{self, AttemptResult, Claimed},
    },
    domain::{signature, webhook::next_attempt},
};

/// Receivers must answer within this (SPEC §7).
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub struct Dispatcher {
    pub db: PgPool,
    pub clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// Failed; will be retried.
    Failed,
    /// Failed for the last time (24 h after the event).
    Dead,
}

/// Totals of a drain.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub delivered: u64,
    pub failed: u64,
    pub dead: u64,
}

impl Dispatcher {
    pub fn new(db: PgPool, clock: Arc<dyn Clock>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("salgate/", env!("CARGO_PKG_VERSION")))
            .build()
            // Runs once at start-up, not per request: fails only if TLS cannot initialize.
            .expect("the TLS backend initializes");
        Dispatcher { db, clock, http }
    }

    /// Sends the next due delivery, if any.
    pub async fn run_once(&self) -> Result<Option<Sent>, sqlx::Error> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let Some(d) = webhooks::claim(&mut tx, now).await? else {
            return Ok(None);
        };
        let body = envelope(&d);
        let started = std::time::Instant::now();
        let answer = self
            .http
            .post(&d.url)
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
        let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        let (status_code, error) = match &answer {
            Ok(res) if res.status().is_success() => (Some(res.status().as_u16()), None),
            Ok(res) => (
                Some(res.status().as_u16()),
                Some(format!("receiver answered {}", res.status())),
            ),
            Err(e) if e.is_timeout() => (None, Some("no answer within 5 s".to_string())),
            Err(e) => (None, Some(format!("could not deliver: {e}"))),
        };
        let delivered = error.is_none();
        let attempts = u32::try_from(d.attempts).unwrap_or(0) + 1;
        let next = if delivered {
            None
        } else {
            next_attempt(d.created_at, now, attempts, rand::random::<f64>())
        };
        webhooks::record(
            &mut tx,
            d.id,
            &AttemptResult {
                at: now,
                status_code,
                error: error.as_deref(),
                duration_ms,
                next_attempt_at: next,
                delivered,
            },
        )
        .await?;
        tx.commit().await?;
        let sent = match (delivered, next) {
            (true, _) => Sent::Delivered,
            (false, Some(_)) => Sent::Failed,
            (false, None) => Sent::Dead,
        };
        let result = match sent {
            Sent::Delivered => "delivered",
            Sent::Failed => "failed",
            Sent::Dead => "dead",
        };
        metrics::counter!("salgate_webhook_attempts_total", "result" => result).increment(1);
        Ok(Some(sent))
    }

    /// Sends until nothing is due (or cancelled between deliveries).
    pub async fn drain(&self, cancel: &CancellationToken) -> Result<Totals, sqlx::Error> {
        let mut t = Totals::default();
        while !cancel.is_cancelled() {
            match self.run_once().await? {
                None => break,
                Some(Sent::Delivered) => t.delivered += 1,
                Some(Sent::Failed) => t.failed += 1,
                Some(Sent::Dead) => t.dead += 1,
            }
        }
        Ok(t)
    }

    /// Polls every `interval` until `cancel` fires; errors are logged and retried.
    pub async fn run(self, interval: Duration, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            match self.drain(&cancel).await {
                Ok(t) if t.failed + t.dead > 0 => tracing::warn!(
                    delivered = t.delivered,
                    failed = t.failed,
                    dead = t.dead,
                    "webhook deliveries failed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook dispatch failed; retrying"),
            }
        }
    }
}

/// The body sent: `{id, type, occurred_at, data: {lead, entry}}`, the lead as the API shows it
/// right after the change (its `sla` as of the event).
fn envelope(d: &Claimed) -> Vec<u8> {
    let p = &d.payload;
    let occurred_at: Option<DateTime<Utc>> = serde_json::from_value(p["occurred_at"].clone()).ok();
    let lead: Value = match serde_json::from_value::<Lead>(p["lead"].clone()) {
        Ok(l) => {
            let at = occurred_at.unwrap_or(l.updated_at);
            serde_json::to_value(l.with_sla(at)).unwrap_or(Value::Null)
        }
        Err(e) => {
            tracing::error!(error = %e, delivery = %d.id, "stored lead snapshot unreadable");
            Value::Null
        }
    };
    let e = &p["entry"];
    let entry = json!({
        "kind": e["kind"], "cycle": e["cycle"], "actor": e["actor"], "rep": e["rep_id"],
        "code": e["code"], "note": e["note"], "data": e["data"],
    });
    let body = json!({
        "id": d.event_id,
        "type": d.event_type,
        "occurred_at": occurred_at,
        "data": { "lead": lead, "entry": entry },
    });
    serde_json::to_vec(&body).unwrap_or_default()
}
