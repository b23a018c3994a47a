//! Webhook subscriptions, the deliveries the outbox trigger writes (see the `webhooks`
//! migration), and the dispatcher's claim and bookkeeping.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool, Postgres, Transaction};
use utoipa::ToSchema;
use uuid::Uuid;

/// A subscription as listed (the secret is shown only when it is created).
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    /// Event types sent; empty means all.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn create(
    pool: &PgPool,
    url: &str,
    events: &[String],
    description: Option<&str>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Subscription, sqlx::Error> {
    sqlx::query_as(
        "INSERT INTO webhook_subscriptions (id, url, events, secret, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, url, events, description, created_at",
    )
    .bind(Uuid::now_v7())
    .bind(url)
    .bind(events)
    .bind(secret)
    .bind(description)
    .bind(now)
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &PgPool) -> Result<Vec<Subscription>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, url, events, description, created_at FROM webhook_subscriptions \
         WHERE deleted_at IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, url, events, description, created_at FROM webhook_subscriptions \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Soft delete: no new deliveries; pending ones are dropped (`dead`). `false` when unknown.
pub async fn delete(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "UPDATE webhook_subscriptions SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'dead', last_error = 'subscription deleted' \
         WHERE subscription_id = $1 AND status = 'pending'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// A delivery as listed, with its attempts.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub subscription_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub lead_id: Uuid,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Every attempt, oldest first: `{attempted_at, status_code, error, duration_ms}`.
    #[schema(value_type = Vec<Object>)]
    pub attempt_log: Value,
}

/// The latest deliveries of a subscription, newest first.
pub async fn deliveries(
    pool: &PgPool,
    subscription: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.subscription_id, d.event_id, d.event_type, d.lead_id, d.status, \
           d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at, \
           COALESCE((SELECT jsonb_agg(jsonb_build_object('attempted_at', a.attempted_at, \
               'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms) \
               ORDER BY a.id) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') \
             AS attempt_log \
         FROM webhook_deliveries d WHERE d.subscription_id = $1 \
         ORDER BY d.created_at DESC, d.seq DESC LIMIT $2",
    )
    .bind(subscription)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Puts a delivery back in the queue now (also a `dead` or `delivered` one). `false` when
/// unknown or its subscription was deleted.
pub async fn redeliver(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $2, \
           created_at = $2, last_error = NULL \
         FROM webhook_subscriptions s \
         WHERE d.id = $1 AND s.id = d.subscription_id AND s.deleted_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// A claimed delivery: what the dispatcher needs to send it.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub url: String,
    pub secret: String,
    pub payload: Value,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Locks the next due delivery whose lead has no earlier pending delivery for the same
/// subscription (order per lead), skipping rows other dispatchers hold. The lock lasts until
/// the transaction ends, so no other dispatcher sends it meanwhile; a dispatcher that dies
/// releases it undelivered.
pub async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    now: DateTime<Utc>,
) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "SELECT d.id, d.event_id, d.event_type, s.url, s.secret, d.payload, d.attempts, \
           d.created_at \
         FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 \
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
             WHERE e.subscription_id = d.subscription_id AND e.lead_id = d.lead_id \
               AND e.status = 'pending' AND e.seq < d.seq) \
         ORDER BY d.next_attempt_at, d.seq LIMIT 1 \
         FOR UPDATE OF d SKIP LOCKED",
    )
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// How one attempt went.
pub struct AttemptResult<'a> {
    pub at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub error: Option<&'a str>,
    pub duration_ms: i32,
    /// `Some(next)` to retry at `next`; `None` with `delivered` false: dead.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered: bool,
}

pub async fn record(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    r: &AttemptResult<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, error, duration_ms) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(r.at)
    .bind(r.status_code.map(i32::from))
    .bind(r.error)
    .bind(r.duration_ms)
    .execute(&mut **tx)
    .await?;
    let status = match (r.delivered, r.next_attempt_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "dead",
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, \
           next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4, \
           delivered_at = CASE WHEN $2 = 'delivered' THEN $5 END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(r.next_attempt_at)
    .bind(r.error)
    .bind(r.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Pending deliveries (the outbox backlog) and dead ones, for `/metrics`.
pub async fn backlog(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead') \
         FROM webhook_deliveries WHERE status <> 'delivered'",
    )
    .fetch_one(pool)
    .await
}
