//! The notification outbox (migration `20261203200000_notifications`): which channels the
//! trigger writes rows for, the dispatcher's claim (a lease committed before the send) and
//! record, and the deliveries list.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::notify::{Channel, Notification, NotificationKind};

const SET_CHANNEL: &str = "UPDATE notify_channels SET enabled = $2, updated_at = now() \
         WHERE channel = $1 AND enabled IS DISTINCT FROM $2";

/// Tells the outbox trigger which channels can be sent on (set at start-up from the
/// settings; every replica should run with the same ones, the latest start decides).
pub async fn set_channels(pool: &PgPool, slack: bool, email: bool) -> Result<(), sqlx::Error> {
    for (channel, on) in [(Channel::Slack, slack), (Channel::Email, email)] {
        sqlx::query(SET_CHANNEL)
            .bind(channel.as_str())
            .bind(on)
            .execute(pool)
            .await?;
    }
    Ok(())
}

#[derive(Debug, FromRow)]
struct Row {
    id: Uuid,
    event_id: Uuid,
    kind: String,
    channel: String,
    recipient: String,
    lead_id: Uuid,
    cycle: i32,
    attempts: i32,
    payload: Value,
    lease: Uuid,
}

/// A claimed row and the lease to record its attempt with.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub notification: Notification,
    pub lease: Uuid,
}

/// Leases up to `n` due pending rows of `channels` until `lease_until`, earliest first,
/// skipping rows another dispatcher holds.
pub async fn claim(
    pool: &PgPool,
    channels: &[Channel],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    n: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let names: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    let rows: Vec<Row> = sqlx::query_as(CLAIM)
        .bind(&names)
        .bind(now)
        .bind(lease_until)
        .bind(n)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(claimed).collect()
}

fn claimed(r: Row) -> Result<Claimed, sqlx::Error> {
    let bad = |what: &str, v: &str| sqlx::Error::Decode(format!("unknown {what} `{v}`").into());
    Ok(Claimed {
        notification: Notification {
            id: r.id,
            event_id: r.event_id,
            kind: NotificationKind::parse(&r.kind).ok_or_else(|| bad("kind", &r.kind))?,
            channel: Channel::parse(&r.channel).ok_or_else(|| bad("channel", &r.channel))?,
            recipient: r.recipient,
            lead_id: r.lead_id,
            cycle: r.cycle,
            attempts: r.attempts,
            payload: r.payload,
        },
        lease: r.lease,
    })
}

const CLAIM: &str = "UPDATE notifications n SET next_attempt_at = $3, lease = gen_random_uuid() \
     FROM (SELECT id FROM notifications \
           WHERE channel = ANY($1::text[]) AND status = 'pending' AND next_attempt_at <= $2 \
           ORDER BY channel, next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) due \
     WHERE n.id = due.id \
     RETURNING n.id, n.event_id, n.kind, n.channel, n.recipient, n.lead_id, n.cycle, \
       n.attempts, n.payload, n.lease";

/// How one attempt ended, as stored.
pub struct Attempt<'a> {
    pub at: DateTime<Utc>,
    /// `sent`, `pending` (retried at `retry_at`) or `dead`.
    pub status: &'a str,
    pub retry_at: Option<DateTime<Utc>>,
    pub error: Option<&'a str>,
    pub external_ref: Option<&'a str>,
}

const RECORD: &str = "SELECT notification_record($1, $2, $3, $4, $5, $6, $7)";

/// Records the attempt if the lease still holds: the row's new status, or `lost`.
pub async fn record(pool: &PgPool, c: &Claimed, a: &Attempt<'_>) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(RECORD)
        .bind(c.notification.id)
        .bind(c.lease)
        .bind(a.at)
        .bind(a.status)
        .bind(a.retry_at)
        .bind(a.error)
        .bind(a.external_ref)
        .fetch_one(pool)
        .await
}

/// A notification in `GET /v1/notifications`.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Listed {
    pub id: Uuid,
    pub event_id: Uuid,
    /// `routed`, `unassigned`, `at_risk`, `breached`, `first_touch_due`, `first_touch_missed`.
    pub kind: String,
    /// `slack` or `email`.
    pub channel: String,
    pub recipient: String,
    pub lead_id: Uuid,
    pub cycle: i32,
    /// `pending`, `sent` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Set when the row waits because no replica can send on its channel now.
    pub waiting_for: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub external_ref: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the list may be filtered by (all optional).
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub status: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub lead_id: Option<Uuid>,
}

const LIST: &str = "SELECT n.id, n.event_id, n.kind, n.channel, n.recipient, n.lead_id, n.cycle, \
       n.status, n.attempts, n.last_error, n.next_attempt_at, n.external_ref, n.payload, \
       n.created_at, n.sent_at, \
       CASE WHEN n.status = 'pending' AND NOT c.enabled \
            THEN 'no ' || n.channel || ' transport is configured' END AS waiting_for \
     FROM notifications n JOIN notify_channels c ON c.channel = n.channel \
     WHERE ($1::text IS NULL OR n.status = $1) AND ($2::text IS NULL OR n.channel = $2) \
       AND ($3::uuid IS NULL OR n.lead_id = $3) \
     ORDER BY n.created_at DESC, n.id DESC LIMIT $4";

/// The newest `limit` notifications matching `f`.
pub async fn list(pool: &PgPool, f: &Filter<'_>, limit: i64) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as(LIST)
        .bind(f.status)
        .bind(f.channel)
        .bind(f.lead_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

statements!(SET_CHANNEL, CLAIM, RECORD, LIST);
