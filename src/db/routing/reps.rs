//! Sales reps: their rows, their queue memberships, and owners a CRM names before anyone
//! describes them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

macro_rules! rep_select {
    () => {
        "SELECT r.id, r.name, r.email, r.slack_user_id, r.hubspot_owner_id, r.salesforce_owner_id, r.active, r.capacity, r.away_until, r.auto_registered, \
     r.created_at, r.updated_at, \
     COALESCE(ARRAY(SELECT m.queue_id FROM queue_members m WHERE m.rep_id = r.id ORDER BY m.queue_id), '{}') AS queues, \
     (SELECT count(*) FROM leads l WHERE l.owner = r.id AND l.state = 'routed') AS open_leads \
     FROM reps r"
    };
}

/// A sales rep.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Rep {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// Slack user id (`U…`) notifications are sent to.
    pub slack_user_id: Option<String>,
    /// The rep's owner id in HubSpot and in Salesforce (docs/crm.md): what salgate writes as
    /// the record's owner, and whose changes in the CRM decide as this rep.
    pub hubspot_owner_id: Option<String>,
    pub salesforce_owner_id: Option<String>,
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

const REPS: &str = concat!(rep_select!(), " ORDER BY r.id");

pub async fn reps(pool: &PgPool) -> Result<Vec<Rep>, sqlx::Error> {
    sqlx::query_as(REPS).fetch_all(pool).await
}

const REP: &str = concat!(rep_select!(), " WHERE r.id = $1");

pub async fn rep(pool: &PgPool, id: &str) -> Result<Option<Rep>, sqlx::Error> {
    sqlx::query_as(REP).bind(id).fetch_optional(pool).await
}

/// What `PUT /v1/reps/{id}` writes.
pub struct RepWrite<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub slack_user_id: Option<&'a str>,
    pub hubspot_owner_id: Option<&'a str>,
    pub salesforce_owner_id: Option<&'a str>,
    pub queues: &'a [String],
    pub active: bool,
    pub capacity: Option<i32>,
    pub away_until: Option<DateTime<Utc>>,
}

const UPSERT_REP: &str = "INSERT INTO reps (id, name, email, active, capacity, away_until, created_at, updated_at, slack_user_id, hubspot_owner_id, salesforce_owner_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, \
           slack_user_id = EXCLUDED.slack_user_id, \
           hubspot_owner_id = EXCLUDED.hubspot_owner_id, \
           salesforce_owner_id = EXCLUDED.salesforce_owner_id, \
           active = EXCLUDED.active, capacity = EXCLUDED.capacity, \
           away_until = EXCLUDED.away_until, auto_registered = false, updated_at = EXCLUDED.updated_at";
const CLEAR_MEMBERSHIPS: &str = "DELETE FROM queue_members WHERE rep_id = $1";
const ADD_MEMBERSHIPS: &str =
    "INSERT INTO queue_members (queue_id, rep_id) SELECT unnest($2::text[]), $1";

/// Creates or replaces a rep and its queue memberships in one transaction.
pub async fn upsert_rep(
    pool: &PgPool,
    r: &RepWrite<'_>,
    now: DateTime<Utc>,
) -> Result<Rep, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(UPSERT_REP)
        .bind(r.id)
        .bind(r.name)
        .bind(r.email)
        .bind(r.active)
        .bind(r.capacity)
        .bind(r.away_until)
        .bind(now)
        .bind(r.slack_user_id)
        .bind(r.hubspot_owner_id)
        .bind(r.salesforce_owner_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(CLEAR_MEMBERSHIPS)
        .bind(r.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(ADD_MEMBERSHIPS)
        .bind(r.id)
        .bind(r.queues)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    rep(pool, r.id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Whether an owner named by a CRM can take the lead, after registering it if it was unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerStatus {
    /// The rep did not exist and was registered now.
    pub registered: bool,
    /// Active and not away.
    pub available: bool,
}

const REGISTER_OWNER: &str = "WITH ins AS ( \
               INSERT INTO reps (id, name, auto_registered, created_at, updated_at) \
               VALUES ($1, $1, true, $2, $2) ON CONFLICT (id) DO NOTHING RETURNING id) \
             SELECT true, true FROM ins \
             UNION ALL \
             SELECT false, active AND (away_until IS NULL OR away_until <= $2) FROM reps \
             WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)";

/// Registers `rep` as an active rep if salgate has never seen it (CRM owner ids arrive before
/// anyone describes them) and says whether it is available; one statement.
pub async fn register_owner(
    pool: &PgPool,
    rep: &str,
    now: DateTime<Utc>,
) -> Result<OwnerStatus, sqlx::Error> {
    // When a concurrent request registers the same rep, the insert waits for it and does
    // nothing, but this statement's snapshot predates that commit and sees no row: ask again
    // (the next statement's snapshot sees it).
    for _ in 0..3 {
        let row: Option<(bool, bool)> = sqlx::query_as(REGISTER_OWNER)
            .bind(rep)
            .bind(now)
            .fetch_optional(pool)
            .await?;
        if let Some((registered, available)) = row {
            return Ok(OwnerStatus {
                registered,
                available,
            });
        }
    }
    Err(sqlx::Error::RowNotFound)
}

statements!(
    REPS,
    REP,
    UPSERT_REP,
    CLEAR_MEMBERSHIPS,
    ADD_MEMBERSHIPS,
    REGISTER_OWNER
);
