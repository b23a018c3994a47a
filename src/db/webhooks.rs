//! Webhook subscriptions and the deliveries the outbox trigger writes (see the `webhooks` and
//! `webhook_leases` migrations). The dispatcher's claim and bookkeeping are in
//! [`super::webhook_dispatch`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
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
    /// `active`, or `paused` by the circuit breaker after failing attempts (deliveries are
    /// kept; `POST /v1/webhook-subscriptions/{id}/resume` sends them again).
    pub status: String,
    pub paused_at: Option<DateTime<Utc>>,
    pub pause_reason: Option<String>,
}

/// The columns of [`Subscription`].
macro_rules! columns {
    () => {
        "id, url, events, description, created_at, \
    CASE WHEN paused_at IS NULL THEN 'active' ELSE 'paused' END AS status, paused_at, pause_reason"
    };
}

const CREATE: &str = concat!(
    "INSERT INTO webhook_subscriptions (id, url, events, secret, description, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
    columns!()
);

pub async fn create(
    pool: &PgPool,
    url: &str,
    events: &[String],
    description: Option<&str>,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Subscription, sqlx::Error> {
    sqlx::query_as(CREATE)
        .bind(Uuid::now_v7())
        .bind(url)
        .bind(events)
        .bind(secret)
        .bind(description)
        .bind(now)
        .fetch_one(pool)
        .await
}

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM webhook_subscriptions WHERE deleted_at IS NULL ORDER BY id"
);

pub async fn list(pool: &PgPool) -> Result<Vec<Subscription>, sqlx::Error> {
    sqlx::query_as(LIST).fetch_all(pool).await
}

const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM webhook_subscriptions WHERE id = $1 AND deleted_at IS NULL"
);

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as(GET).bind(id).fetch_optional(pool).await
}

const SOFT_DELETE: &str =
    "UPDATE webhook_subscriptions SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";
const DROP_PENDING: &str =
    "UPDATE webhook_deliveries SET status = 'dead', last_error = 'subscription deleted' \
         WHERE subscription_id = $1 AND status = 'pending'";
const DROP_HEADS: &str = "DELETE FROM webhook_heads WHERE subscription_id = $1";

/// Soft delete: no new deliveries; pending ones are dropped (`dead`). `false` when unknown.
pub async fn delete(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(SOFT_DELETE)
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    sqlx::query(DROP_PENDING).bind(id).execute(&mut *tx).await?;
    // No lock of a delivery in flight is waited on: claims are leases, committed before the
    // POST; its attempt is recorded as `lost`.
    sqlx::query(DROP_HEADS).bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done)
}

const RESUME: &str = concat!(
    "UPDATE webhook_subscriptions SET paused_at = NULL, pause_reason = NULL, \
           consecutive_failures = 0, failing_since = NULL \
         WHERE id = $1 AND deleted_at IS NULL RETURNING ",
    columns!()
);

/// Resumes a paused subscription: its failure count starts again and its deliveries are sent
/// (each at its next attempt). `None` when unknown; an active one only has its count reset.
pub async fn resume(pool: &PgPool, id: Uuid) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as(RESUME).bind(id).fetch_optional(pool).await
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

const DELIVERIES: &str =
    "SELECT d.id, d.subscription_id, d.event_id, d.event_type, d.lead_id, d.status, \
           d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.delivered_at, \
           COALESCE((SELECT jsonb_agg(jsonb_build_object('attempted_at', a.attempted_at, \
               'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms) \
               ORDER BY a.id) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') \
             AS attempt_log \
         FROM webhook_deliveries d WHERE d.subscription_id = $1 \
         ORDER BY d.created_at DESC, d.seq DESC LIMIT $2";

/// The latest deliveries of a subscription, newest first.
pub async fn deliveries(
    pool: &PgPool,
    subscription: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query_as(DELIVERIES)
        .bind(subscription)
        .bind(limit)
        .fetch_all(pool)
        .await
}

const REDELIVER: &str =
    "UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $2, \
           created_at = $2, last_error = NULL \
         FROM webhook_subscriptions s \
         WHERE d.id = $1 AND s.id = d.subscription_id AND s.deleted_at IS NULL \
         RETURNING jsonb_build_object('id', d.id, 'subscription_id', d.subscription_id, \
           'lead_id', d.lead_id, 'seq', d.seq, 'next_attempt_at', d.next_attempt_at)";
const ENSURE_HEADS: &str = "SELECT webhook_ensure_heads(jsonb_build_array($1::jsonb))";

/// Puts a delivery back in the queue now (also a `dead` or `delivered` one). `false` when
/// unknown or its subscription was deleted.
pub async fn redeliver(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let row: Option<Value> = sqlx::query_scalar(REDELIVER)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(false) };
    // Behind the head of its lead if there is one (order per lead), else the head itself.
    sqlx::query(ENSURE_HEADS)
        .bind(row)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

const BACKLOG: &str =
    "SELECT count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'dead') \
         FROM webhook_deliveries WHERE status <> 'delivered'";

/// Pending deliveries (the outbox backlog) and dead ones, for `/metrics`.
pub async fn backlog(pool: &PgPool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(BACKLOG).fetch_one(pool).await
}

statements!(
    CREATE,
    LIST,
    GET,
    RESUME,
    SOFT_DELETE,
    DROP_PENDING,
    DROP_HEADS,
    DELIVERIES,
    REDELIVER,
    ENSURE_HEADS,
    BACKLOG
);
