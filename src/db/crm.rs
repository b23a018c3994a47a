//! The CRM write-back outbox (migration `20261205000000_crm_writebacks`): which CRMs the
//! trigger writes rows for, the writer's claim (a lease committed before the call) and
//! record, the list, and what the echo check and CRM decisions read.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

const SET_TARGET: &str = "UPDATE crm_targets SET enabled = $2, updated_at = now() \
         WHERE crm = $1 AND enabled IS DISTINCT FROM $2";

/// Tells the outbox trigger which CRMs are written to (start-up; every replica should run
/// with the same settings, the latest start decides).
pub async fn set_targets(
    pool: &PgPool,
    hubspot: bool,
    salesforce: bool,
) -> Result<(), sqlx::Error> {
    for (crm, on) in [("hubspot", hubspot), ("salesforce", salesforce)] {
        sqlx::query(SET_TARGET)
            .bind(crm)
            .bind(on)
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// A claimed write-back and the lease to record its attempt with.
#[derive(Debug, Clone, FromRow)]
pub struct Claimed {
    pub id: Uuid,
    pub lead_id: Uuid,
    pub record_id: String,
    pub event: String,
    pub fields: Value,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub lease: Uuid,
}

// Only the head of each lead's pending sequence is claimable (order per lead); the claim
// takes it with `SKIP LOCKED`, so replicas never hold the same row, and a later row of a
// lead whose head another replica holds is not due (its head is still pending).
const CLAIM: &str = "UPDATE crm_writebacks w SET next_attempt_at = $3, lease = gen_random_uuid(), \
       attempted_at = $2 \
     FROM (SELECT c.id FROM crm_writebacks c \
           WHERE c.crm = $1 AND c.status = 'pending' AND c.next_attempt_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM crm_writebacks e WHERE e.lead_id = c.lead_id \
                   AND e.crm = c.crm AND e.status = 'pending' AND e.history_id < c.history_id) \
           ORDER BY c.next_attempt_at, c.history_id LIMIT $4 FOR UPDATE SKIP LOCKED) due \
     WHERE w.id = due.id \
     RETURNING w.id, w.lead_id, w.record_id, w.event, w.fields, w.attempts, w.created_at, w.lease";

/// Leases up to `n` due heads of `crm` until `lease_until`, earliest first.
pub async fn claim(
    pool: &PgPool,
    crm: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    n: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(CLAIM)
        .bind(crm)
        .bind(now)
        .bind(lease_until)
        .bind(n)
        .fetch_all(pool)
        .await
}

/// How one attempt ended, as stored.
pub struct Attempt<'a> {
    pub at: DateTime<Utc>,
    /// `sent`, `pending` (retried at `retry_at`) or `failed`.
    pub status: &'a str,
    pub retry_at: Option<DateTime<Utc>>,
    pub error: Option<&'a str>,
}

const RECORD: &str = "SELECT crm_writeback_record($1, $2, $3, $4, $5, $6)";

/// Records the attempt if the lease still holds: the row's new status, or `lost`.
pub async fn record(pool: &PgPool, c: &Claimed, a: &Attempt<'_>) -> Result<String, sqlx::Error> {
    sqlx::query_scalar(RECORD)
        .bind(c.id)
        .bind(c.lease)
        .bind(a.at)
        .bind(a.status)
        .bind(a.retry_at)
        .bind(a.error)
        .fetch_one(pool)
        .await
}

/// A write-back in `GET /v1/crm-writebacks`.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Listed {
    pub id: Uuid,
    /// `hubspot` or `salesforce`.
    pub crm: String,
    pub lead_id: Uuid,
    /// The HubSpot contact id or Salesforce Lead Id written to (the lead's `external_id`).
    pub record_id: String,
    /// `routed`, `accepted`, `rejected`, `recycled`, `assigned` or `sla_breached`.
    pub event: String,
    /// The lead's fields as of the change, before mapping to the CRM's names.
    #[schema(value_type = Object)]
    pub fields: Value,
    /// `pending`, `sent` or `failed` (the CRM refused the record, or retries ran out).
    pub status: String,
    pub attempts: i32,
    /// The CRM's message for a failed or retried attempt.
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What the list may be filtered by (all optional).
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub status: Option<&'a str>,
    pub crm: Option<&'a str>,
    pub lead_id: Option<Uuid>,
}

const LIST: &str = "SELECT id, crm, lead_id, record_id, event, fields, status, attempts, \
       last_error, next_attempt_at, created_at, sent_at FROM crm_writebacks \
     WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR crm = $2) \
       AND ($3::uuid IS NULL OR lead_id = $3) \
     ORDER BY created_at DESC, id DESC LIMIT $4";

/// The newest `limit` write-backs matching `f`.
pub async fn list(pool: &PgPool, f: &Filter<'_>, limit: i64) -> Result<Vec<Listed>, sqlx::Error> {
    sqlx::query_as(LIST)
        .bind(f.status)
        .bind(f.crm)
        .bind(f.lead_id)
        .bind(limit)
        .fetch_all(pool)
        .await
}

const STATES_WRITTEN_NEAR: &str = "SELECT DISTINCT fields ->> 'state' FROM crm_writebacks \
     WHERE lead_id = $1 AND crm = $2 AND attempted_at IS NOT NULL \
       AND attempted_at BETWEEN $3::timestamptz - $4::interval AND $3::timestamptz + $4::interval";

/// The states salgate wrote (attempted to write) to the lead's CRM record within `window`
/// of `at`: a CRM change event at `at` carrying one of them is salgate's own write coming
/// back.
pub async fn states_written_near(
    pool: &PgPool,
    lead: Uuid,
    crm: &str,
    at: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<Vec<String>, sqlx::Error> {
    let window = sqlx::postgres::types::PgInterval::try_from(window)
        .map_err(|e| sqlx::Error::Encode(e.to_string().into()))?;
    sqlx::query_scalar(STATES_WRITTEN_NEAR)
        .bind(lead)
        .bind(crm)
        .bind(at)
        .bind(window)
        .fetch_all(pool)
        .await
}

const LAST_STATE_WRITTEN: &str = "SELECT fields ->> 'state' FROM crm_writebacks \
     WHERE lead_id = $1 AND crm = $2 ORDER BY history_id DESC LIMIT 1";

/// The state of the latest write-back to the lead's CRM record (any status).
pub async fn last_state_written(
    pool: &PgPool,
    lead: Uuid,
    crm: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(LAST_STATE_WRITTEN)
        .bind(lead)
        .bind(crm)
        .fetch_optional(pool)
        .await
        .map(Option::flatten)
}

const PENDING_REJECTION: &str = "SELECT EXISTS (SELECT 1 FROM lead_history h \
       JOIN leads l ON l.id = h.lead_id AND l.cycle = h.cycle AND l.state = 'routed' \
     WHERE h.lead_id = $1 AND h.kind = 'rejected_without_code' \
       AND NOT EXISTS (SELECT 1 FROM lead_history later WHERE later.lead_id = h.lead_id \
             AND later.cycle = h.cycle AND later.id > h.id \
             AND later.kind IN ('accepted', 'rejected', 'recycled')))";

/// Whether the lead's open cycle had a rejection made in the CRM without a code (it waits
/// for the code).
pub async fn pending_rejection(pool: &PgPool, lead: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(PENDING_REJECTION)
        .bind(lead)
        .fetch_one(pool)
        .await
}

const RECORD_REJECTED_WITHOUT_CODE: &str = "INSERT INTO lead_history (lead_id, cycle, kind, \
       from_state, to_state, actor, actor_role, rep_id, code, note, data, occurred_at, \
       recorded_at) \
     SELECT id, cycle, 'rejected_without_code', state, state, $2, $3, owner, $4, $5, $6, $7, $7 \
     FROM leads WHERE id = $1 AND state = 'routed'";

/// What a CRM rejection without a valid code was.
pub struct WithoutCode<'a> {
    pub actor: &'a str,
    pub role: &'a str,
    /// The code the CRM field held, if any (not an active rejection code).
    pub code: Option<&'a str>,
    pub note: &'a str,
    pub data: Value,
}

/// Appends a `rejected_without_code` event to the lead's open cycle (nothing if it is not
/// routed); whether it was written. The lead itself does not change.
pub async fn record_rejected_without_code(
    pool: &PgPool,
    lead: Uuid,
    w: &WithoutCode<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(RECORD_REJECTED_WITHOUT_CODE)
        .bind(lead)
        .bind(w.actor)
        .bind(w.role)
        .bind(w.code)
        .bind(w.note)
        .bind(&w.data)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

const REP_BY_OWNER: &str = "SELECT id FROM reps \
     WHERE CASE $1 WHEN 'hubspot' THEN hubspot_owner_id ELSE salesforce_owner_id END = $2 \
        OR (id = $2 AND registered_from_crm) \
     ORDER BY (id = $2) LIMIT 1";

/// The rep whose owner id in `crm` is `owner` (a rep registered from that owner id is its
/// own).
pub async fn rep_by_owner(
    pool: &PgPool,
    crm: &str,
    owner: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(REP_BY_OWNER)
        .bind(crm)
        .bind(owner)
        .fetch_optional(pool)
        .await
}

statements!(
    SET_TARGET,
    CLAIM,
    RECORD,
    LIST,
    STATES_WRITTEN_NEAR,
    LAST_STATE_WRITTEN,
    PENDING_REJECTION,
    RECORD_REJECTED_WITHOUT_CODE,
    REP_BY_OWNER
);
