//! Queues and reps: their rows, claims and reassignments. Who gets a lead is chosen in
//! [`pick`] (the rules themselves are `domain::routing`'s); the escalation ladder's steps are in
//! [`escalation`].

pub(super) mod claim;
pub(super) mod escalation;
pub(super) mod pick;
pub(super) mod reps;
pub(super) mod sticky;

use crate::domain::{claim_order::ClaimOrder, routing::Strategy};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

pub use claim::{candidates, claim, claim_among, member_claim_order, Candidate};
pub use escalation::{escalate, escalations_due, Escalated, EscalationDue};
pub use pick::{
    pick_from_queue, queue_info, snapshot, take_turn, QueueInfo, QueuePick, QueueSnapshot,
};
pub use reps::{register_owner, rep, reps, upsert_rep, OwnerStatus, Rep, RepWrite};
pub use sticky::account_owner;

/// A queue leads are routed to.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Queue {
    pub id: String,
    pub name: String,
    /// Calendar for SLA arithmetic when the lead's policy has none.
    #[serde(rename = "calendar")]
    pub calendar_id: Option<String>,
    /// `round_robin`, `least_loaded` or `claim`.
    #[schema(value_type = String)]
    pub strategy: Strategy,
    /// Rep ids of the members.
    pub members: Vec<String>,
    /// Leads whose account has an owner go to that owner (the strategy decides otherwise).
    pub sticky_account: bool,
    /// `due` (the earliest due first) or `likely_accepted` (the highest predicted acceptance
    /// first): the order its claims hand out its unassigned leads.
    #[schema(value_type = String)]
    pub claim_order: ClaimOrder,
    /// Slack channel id for its unassigned leads and breaches (null: none).
    pub slack_channel: Option<String>,
    /// Addresses that get its unassigned leads and breaches by email.
    pub notify_emails: Vec<String>,
    /// Which notifications its leads send (each on unless turned off).
    #[sqlx(flatten)]
    pub notifications: QueueNotifications,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A queue's notification switches (docs/notifications.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, FromRow, ToSchema)]
pub struct QueueNotifications {
    /// A lead routed or reassigned to a rep: that rep.
    #[sqlx(rename = "notify_routed")]
    pub routed: bool,
    /// A lead waiting unassigned: the queue's channel and list.
    #[sqlx(rename = "notify_unassigned")]
    pub unassigned: bool,
    /// At risk: the owner.
    #[sqlx(rename = "notify_at_risk")]
    pub at_risk: bool,
    /// Breached: the owner, the queue's channel and list.
    #[sqlx(rename = "notify_breached")]
    pub breached: bool,
    /// First touch due (at acceptance) and missed: the owner.
    #[sqlx(rename = "notify_first_touch")]
    pub first_touch: bool,
}

impl Default for QueueNotifications {
    fn default() -> Self {
        QueueNotifications {
            routed: true,
            unassigned: true,
            at_risk: true,
            breached: true,
            first_touch: true,
        }
    }
}

/// What `PUT /v1/queues/{id}` writes besides name, calendar and strategy.
#[derive(Debug, Clone, Default)]
pub struct QueueNotify {
    pub slack_channel: Option<String>,
    pub notify_emails: Vec<String>,
    pub notifications: QueueNotifications,
}

macro_rules! queue_select {
    () => {
        "SELECT q.id, q.name, q.calendar_id, q.strategy, q.sticky_account, q.claim_order, q.created_at, \
     q.updated_at, \
     q.slack_channel, q.notify_emails, q.notify_routed, q.notify_unassigned, q.notify_at_risk, \
     q.notify_breached, q.notify_first_touch, \
     COALESCE(ARRAY(SELECT m.rep_id FROM queue_members m WHERE m.queue_id = q.id ORDER BY m.rep_id), '{}') AS members \
     FROM queues q"
    };
}

const QUEUES: &str = concat!(queue_select!(), " ORDER BY q.id");

pub async fn queues(pool: &PgPool) -> Result<Vec<Queue>, sqlx::Error> {
    sqlx::query_as(QUEUES).fetch_all(pool).await
}

const QUEUE: &str = concat!(queue_select!(), " WHERE q.id = $1");

pub async fn queue(pool: &PgPool, id: &str) -> Result<Option<Queue>, sqlx::Error> {
    sqlx::query_as(QUEUE).bind(id).fetch_optional(pool).await
}

const UPSERT_QUEUE: &str = "INSERT INTO queues (id, name, calendar_id, strategy, rr_seq, created_at, updated_at, \
           slack_channel, notify_emails, notify_routed, notify_unassigned, notify_at_risk, \
           notify_breached, notify_first_touch, sticky_account, claim_order) \
         VALUES ($1, $2, $3, $4, $6, $5, $5, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, calendar_id = EXCLUDED.calendar_id, \
           strategy = EXCLUDED.strategy, rr_seq = EXCLUDED.rr_seq, updated_at = EXCLUDED.updated_at, \
           slack_channel = EXCLUDED.slack_channel, notify_emails = EXCLUDED.notify_emails, \
           notify_routed = EXCLUDED.notify_routed, notify_unassigned = EXCLUDED.notify_unassigned, \
           notify_at_risk = EXCLUDED.notify_at_risk, notify_breached = EXCLUDED.notify_breached, \
           notify_first_touch = EXCLUDED.notify_first_touch, \
           sticky_account = EXCLUDED.sticky_account, claim_order = EXCLUDED.claim_order";

/// What a queue PUT sets besides its notification fields.
pub struct QueueSettings<'a> {
    pub name: &'a str,
    pub calendar: Option<&'a str>,
    pub strategy: Strategy,
    pub sticky_account: bool,
    pub claim_order: ClaimOrder,
}

pub async fn upsert_queue(
    pool: &PgPool,
    id: &str,
    set: &QueueSettings<'_>,
    notify: &QueueNotify,
    now: DateTime<Utc>,
) -> Result<Queue, sqlx::Error> {
    let QueueSettings {
        name,
        calendar,
        strategy,
        sticky_account,
        claim_order,
    } = *set;
    // The queue's round-robin sequence; its name derives from the id (ids are free text).
    let digest = sha2::Sha256::digest(id.as_bytes());
    let seq = format!("queue_rr_{}", hex::encode(&digest[..12]));
    // Dynamic: an identifier cannot be a bind parameter. Run by every queue-creating test.
    let create_sequence = format!("CREATE SEQUENCE IF NOT EXISTS {seq} MINVALUE 0 START 0");
    sqlx::query(&create_sequence).execute(pool).await?;
    sqlx::query(UPSERT_QUEUE)
        .bind(id)
        .bind(name)
        .bind(calendar)
        .bind(strategy)
        .bind(now)
        .bind(&seq)
        .bind(&notify.slack_channel)
        .bind(&notify.notify_emails)
        .bind(notify.notifications.routed)
        .bind(notify.notifications.unassigned)
        .bind(notify.notifications.at_risk)
        .bind(notify.notifications.breached)
        .bind(notify.notifications.first_touch)
        .bind(sticky_account)
        .bind(claim_order)
        .execute(pool)
        .await?;
    // Nothing deletes queues; should one vanish in between, that is an error, not a panic.
    queue(pool, id).await?.ok_or(sqlx::Error::RowNotFound)
}

const IS_MEMBER: &str =
    "SELECT EXISTS (SELECT 1 FROM queue_members WHERE queue_id = $1 AND rep_id = $2)";

pub async fn is_member(pool: &PgPool, queue: &str, rep: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(IS_MEMBER)
        .bind(queue)
        .bind(rep)
        .fetch_one(pool)
        .await
}

const ASSIGN: &str = "WITH u AS ( \
           UPDATE leads SET owner = $3, queue = COALESCE($4, queue), \
             tried_reps = CASE WHEN owner IS NULL OR owner = ANY(tried_reps) THEN tried_reps \
                               ELSE tried_reps || owner END, \
             version = version + 1, updated_at = $5 \
           WHERE id = $1 AND version = $2 AND state = 'routed' RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
             occurred_at, recorded_at) \
           SELECT id, cycle, 'assigned', $6, $7, $3, $8, $5, $5 FROM u) \
         SELECT * FROM u";

/// Gives a routed lead a new owner (or none) and maybe a new queue, with an `assigned` history
/// entry. Guarded by the version read; `None` when the lead changed or is no longer routed.
#[allow(clippy::too_many_arguments)]
pub async fn assign<'e>(
    db: impl sqlx::PgExecutor<'e>,
    current: &crate::db::leads::LeadRow,
    owner: Option<&str>,
    queue: Option<&str>,
    data: &serde_json::Value,
    actor: &str,
    role: crate::domain::Role,
    now: DateTime<Utc>,
) -> Result<Option<crate::db::leads::LeadRow>, sqlx::Error> {
    sqlx::query_as(ASSIGN)
        .bind(current.id)
        .bind(current.version)
        .bind(owner)
        .bind(queue)
        .bind(now)
        .bind(actor)
        .bind(role)
        .bind(data)
        .fetch_optional(db)
        .await
}

statements!(QUEUES, QUEUE, UPSERT_QUEUE, IS_MEMBER, ASSIGN);
