//! The dispatcher's side of the outbox (see the `webhook_leases` migration): which
//! subscriptions to send to, the claim (a lease on heads of (subscription, lead) sequences,
//! committed before the POST), and the record of an attempt afterwards.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

const ACTIVE_SUBSCRIPTIONS: &str = "SELECT id FROM webhook_subscriptions \
         WHERE deleted_at IS NULL AND paused_at IS NULL ORDER BY id";

/// Subscriptions deliveries are sent to: not deleted, not paused.
pub async fn active_subscriptions(pool: &PgPool) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(ACTIVE_SUBSCRIPTIONS)
        .fetch_all(pool)
        .await
}

/// A claimed delivery: what the dispatcher needs to send it, and the lease to record it with.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub lead_id: Uuid,
    pub lease: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub url: String,
    pub secret: String,
    pub payload: Value,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Leases up to `n` due heads of `subscription` until `lease_until`, earliest first, skipping
/// heads another transaction holds. Reads only that subscription's due heads (an index
/// range), however many deliveries wait behind them or behind other subscriptions' heads.
pub async fn claim(
    pool: &PgPool,
    subscription: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    n: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(CLAIM)
        .bind(subscription)
        .bind(now)
        .bind(lease_until)
        .bind(n)
        .fetch_all(pool)
        .await
}

/// The claim statement (`bench/webhook_fanout.rs` explains it too).
pub const CLAIM: &str = "WITH c AS ( \
       UPDATE webhook_heads h SET due_at = $3, lease = gen_random_uuid() \
       FROM (SELECT subscription_id, lead_id FROM webhook_heads \
             WHERE subscription_id = $1 AND due_at <= $2 \
               AND EXISTS (SELECT 1 FROM webhook_subscriptions WHERE id = $1 \
                 AND paused_at IS NULL AND deleted_at IS NULL) \
             ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED) due \
       WHERE h.subscription_id = due.subscription_id AND h.lead_id = due.lead_id \
       RETURNING h.delivery_id, h.lease, h.subscription_id, h.lead_id) \
     SELECT d.id, c.subscription_id, c.lead_id, c.lease, d.event_id, d.event_type, s.url, \
       s.secret, d.payload, d.attempts, d.created_at \
     FROM c JOIN webhook_deliveries d ON d.id = c.delivery_id \
     JOIN webhook_subscriptions s ON s.id = c.subscription_id";

/// How one attempt went.
pub struct AttemptResult<'a> {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub duration_ms: i32,
    /// With an error: `Some(next)` to retry at `next`, `None` to give up (dead).
    pub retry_at: Option<DateTime<Utc>>,
}

/// When the circuit breaker pauses a subscription.
#[derive(Debug, Clone, Copy)]
pub struct PauseAfter {
    pub failures: u32,
    pub failing_for: std::time::Duration,
}

const RECORD: &str = "SELECT webhook_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
           make_interval(secs => $11))";

/// What became of the delivery: `delivered`, `pending` (retried later), `dead`, or `lost`
/// (the lease ran out and a newer claim owns it; the attempt is recorded all the same).
pub async fn record(
    pool: &PgPool,
    d: &Claimed,
    r: &AttemptResult<'_>,
    pause: PauseAfter,
) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(RECORD)
        .bind(d.subscription_id)
        .bind(d.lead_id)
        .bind(d.id)
        .bind(d.lease)
        .bind(r.at)
        .bind(r.status_code.map(i32::from))
        .bind(r.error)
        .bind(r.duration_ms)
        .bind(r.retry_at)
        .bind(i32::try_from(pause.failures).unwrap_or(i32::MAX))
        .bind(pause.failing_for.as_secs_f64())
        .fetch_one(pool)
        .await
}

statements!(CLAIM, ACTIVE_SUBSCRIPTIONS, RECORD);
