//! Queues and reps.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

/// A queue leads are routed to.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Queue {
    pub id: String,
    pub name: String,
    /// Calendar for SLA arithmetic when the lead's policy has none.
    #[serde(rename = "calendar")]
    pub calendar_id: Option<String>,
    /// `round_robin`, `least_loaded` or `claim`.
    pub strategy: String,
    /// Rep ids of the members.
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A sales rep.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Rep {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// Ids of the queues the rep belongs to.
    pub queues: Vec<String>,
    pub active: bool,
    /// Maximum open (routed) leads; null = no cap.
    pub capacity: Option<i32>,
    pub away_until: Option<DateTime<Utc>>,
    /// Created because a CRM named it as an owner first.
    pub auto_registered: bool,
    /// Routed leads it owns now.
    pub open_leads: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const QUEUE_SELECT: &str = "SELECT q.id, q.name, q.calendar_id, q.strategy, q.created_at, q.updated_at, \
     COALESCE(ARRAY(SELECT m.rep_id FROM queue_members m WHERE m.queue_id = q.id ORDER BY m.rep_id), '{}') AS members \
     FROM queues q";

const REP_SELECT: &str = "SELECT r.id, r.name, r.email, r.active, r.capacity, r.away_until, r.auto_registered, \
     r.created_at, r.updated_at, \
     COALESCE(ARRAY(SELECT m.queue_id FROM queue_members m WHERE m.rep_id = r.id ORDER BY m.queue_id), '{}') AS queues, \
     (SELECT count(*) FROM leads l WHERE l.owner = r.id AND l.state = 'routed') AS open_leads \
     FROM reps r";

pub async fn queues(pool: &PgPool) -> Result<Vec<Queue>, sqlx::Error> {
    sqlx::query_as(&format!("{QUEUE_SELECT} ORDER BY q.id"))
        .fetch_all(pool)
        .await
}

pub async fn queue(pool: &PgPool, id: &str) -> Result<Option<Queue>, sqlx::Error> {
    sqlx::query_as(&format!("{QUEUE_SELECT} WHERE q.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

pub async fn upsert_queue(
    pool: &PgPool,
    id: &str,
    name: &str,
    calendar: Option<&str>,
    strategy: &str,
    now: DateTime<Utc>,
) -> Result<Queue, sqlx::Error> {
    sqlx::query(
        "INSERT INTO queues (id, name, calendar_id, strategy, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, calendar_id = EXCLUDED.calendar_id, \
           strategy = EXCLUDED.strategy, updated_at = EXCLUDED.updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(calendar)
    .bind(strategy)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(queue(pool, id).await?.expect("just written"))
}

pub async fn reps(pool: &PgPool) -> Result<Vec<Rep>, sqlx::Error> {
    sqlx::query_as(&format!("{REP_SELECT} ORDER BY r.id"))
        .fetch_all(pool)
        .await
}

pub async fn rep(pool: &PgPool, id: &str) -> Result<Option<Rep>, sqlx::Error> {
    sqlx::query_as(&format!("{REP_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// What `PUT /v1/reps/{id}` writes.
pub struct RepWrite<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub queues: &'a [String],
    pub active: bool,
    pub capacity: Option<i32>,
    pub away_until: Option<DateTime<Utc>>,
}

/// Creates or replaces a rep and its queue memberships in one transaction.
pub async fn upsert_rep(
    pool: &PgPool,
    r: &RepWrite<'_>,
    now: DateTime<Utc>,
) -> Result<Rep, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO reps (id, name, email, active, capacity, away_until, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, \
           active = EXCLUDED.active, capacity = EXCLUDED.capacity, \
           away_until = EXCLUDED.away_until, auto_registered = false, updated_at = EXCLUDED.updated_at",
    )
    .bind(r.id)
    .bind(r.name)
    .bind(r.email)
    .bind(r.active)
    .bind(r.capacity)
    .bind(r.away_until)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM queue_members WHERE rep_id = $1")
        .bind(r.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO queue_members (queue_id, rep_id) SELECT unnest($2::text[]), $1")
        .bind(r.id)
        .bind(r.queues)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(rep(pool, r.id).await?.expect("just written"))
}
