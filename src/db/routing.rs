//! Queues and reps.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

use crate::domain::routing::{pick, Candidate, Strategy};

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

/// Whether an owner named by a CRM can take the lead, after registering it if it was unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerStatus {
    /// The rep did not exist and was registered now.
    pub registered: bool,
    /// Active and not away.
    pub available: bool,
}

/// Registers `rep` as an active rep if salgate has never seen it (CRM owner ids arrive before
/// anyone describes them) and says whether it is available; one statement.
pub async fn register_owner(
    pool: &PgPool,
    rep: &str,
    now: DateTime<Utc>,
) -> Result<OwnerStatus, sqlx::Error> {
    let (registered, available): (bool, bool) = sqlx::query_as(
        "WITH ins AS ( \
           INSERT INTO reps (id, name, auto_registered, created_at, updated_at) \
           VALUES ($1, $1, true, $2, $2) ON CONFLICT (id) DO NOTHING RETURNING id) \
         SELECT true, true FROM ins \
         UNION ALL \
         SELECT false, active AND (away_until IS NULL OR away_until <= $2) FROM reps \
         WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM ins)",
    )
    .bind(rep)
    .bind(now)
    .fetch_one(pool)
    .await?;
    Ok(OwnerStatus {
        registered,
        available,
    })
}

#[derive(FromRow)]
struct Member {
    id: String,
    active: bool,
    away_until: Option<DateTime<Utc>>,
    capacity: Option<i32>,
}

/// The outcome of asking a queue for an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuePick {
    /// No queue with this id: the lead waits unassigned with that queue name.
    UnknownQueue,
    /// A claim queue, or nobody eligible: the lead waits unassigned in the queue.
    Nobody {
        strategy: String,
    },
    Rep {
        rep: String,
        strategy: String,
    },
}

/// Picks an owner from `queue` by its strategy, inside the caller's transaction. The queue row
/// is locked (so round robin advances exactly once per assignment and concurrent picks see
/// each other's leads), then the members' rows (so a rep in several queues is never pushed
/// over capacity); loads are counted after the locks are held.
pub async fn pick_from_queue(
    tx: &mut sqlx::PgConnection,
    queue: &str,
    now: DateTime<Utc>,
    exclude: &[String],
) -> Result<QueuePick, sqlx::Error> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT strategy, rr_next FROM queues WHERE id = $1 FOR UPDATE")
            .bind(queue)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((strategy_text, rr_next)) = row else {
        return Ok(QueuePick::UnknownQueue);
    };
    let Some(strategy) = Strategy::parse(&strategy_text) else {
        return Ok(QueuePick::Nobody {
            strategy: strategy_text,
        });
    };
    if strategy == Strategy::Claim {
        return Ok(QueuePick::Nobody {
            strategy: strategy_text,
        });
    }
    let members: Vec<Member> = sqlx::query_as(
        "SELECT r.id, r.active, r.away_until, r.capacity FROM queue_members m \
         JOIN reps r ON r.id = m.rep_id WHERE m.queue_id = $1 ORDER BY r.id FOR UPDATE OF r",
    )
    .bind(queue)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    // A new statement, so it sees every lead committed before our locks were granted.
    let loads: Vec<(String, i64)> = sqlx::query_as(
        "SELECT owner, count(*) FROM leads WHERE state = 'routed' AND owner = ANY($1) GROUP BY owner",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let candidates: Vec<Candidate> = members
        .into_iter()
        .map(|m| Candidate {
            open: loads
                .iter()
                .find(|(o, _)| *o == m.id)
                .map_or(0, |(_, n)| *n),
            id: m.id,
            active: m.active,
            away_until: m.away_until,
            capacity: m.capacity,
        })
        .collect();
    let Some(p) = pick(strategy, &candidates, rr_next, now, exclude) else {
        return Ok(QueuePick::Nobody {
            strategy: strategy_text,
        });
    };
    if p.rr_next != rr_next {
        sqlx::query("UPDATE queues SET rr_next = $2 WHERE id = $1")
            .bind(queue)
            .bind(p.rr_next)
            .execute(&mut *tx)
            .await?;
    }
    Ok(QueuePick::Rep {
        rep: p.rep,
        strategy: strategy_text,
    })
}

pub async fn is_member(pool: &PgPool, queue: &str, rep: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM queue_members WHERE queue_id = $1 AND rep_id = $2)",
    )
    .bind(queue)
    .bind(rep)
    .fetch_one(pool)
    .await
}

/// Gives `rep` the most urgent unassigned routed lead of `queue` (earliest due), skipping
/// leads another claimer holds, with an `assigned` history entry; `None` when there is none.
pub async fn claim(
    pool: &PgPool,
    queue: &str,
    rep: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<crate::db::leads::Lead>, sqlx::Error> {
    sqlx::query_as(
        "WITH c AS ( \
           SELECT id FROM leads WHERE queue = $1 AND state = 'routed' AND owner IS NULL \
           ORDER BY sla_due_at NULLS LAST, id LIMIT 1 FOR UPDATE SKIP LOCKED), \
         u AS ( \
           UPDATE leads l SET owner = $2, version = l.version + 1, updated_at = $4 \
           FROM c WHERE l.id = c.id RETURNING l.*), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
             occurred_at, recorded_at) \
           SELECT id, cycle, 'assigned', $3, 'sdr', $2, jsonb_build_object('via', 'claim'), $4, $4 \
           FROM u) \
         SELECT * FROM u",
    )
    .bind(queue)
    .bind(rep)
    .bind(actor)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// A lead whose escalation step is due, read without a lock.
#[derive(Debug, Clone, FromRow)]
pub struct EscalationDue {
    pub id: uuid::Uuid,
    pub version: i32,
    pub cycle: i32,
    pub lead_type: String,
    pub sla_policy: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    pub tried_reps: Vec<String>,
}

pub async fn escalations_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<EscalationDue>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, version, cycle, lead_type, sla_policy, queue, owner, tried_reps FROM leads \
         WHERE state = 'routed' AND escalation_due_at <= $1 ORDER BY escalation_due_at LIMIT $2",
    )
    .bind(now)
    .bind(batch)
    .fetch_all(pool)
    .await
}

/// What one escalation step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalated {
    Reassigned,
    ReturnedToQueue,
    /// Someone else handled or changed the lead first; nothing was written.
    Skipped,
}

/// One rung of the ladder, in its own transaction. Locks in the same order as ingest (queue,
/// then reps, then the lead), so the two never deadlock; the lead is re-checked under its lock
/// against the version read, so a step is applied at most once whatever runs concurrently.
/// `deadline` gives the new owner's own accept deadline from now.
pub async fn escalate(
    pool: &PgPool,
    due: &EscalationDue,
    now: DateTime<Utc>,
    deadline: DateTime<Utc>,
) -> Result<Escalated, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut tried = due.tried_reps.clone();
    if let Some(owner) = &due.owner {
        if !tried.contains(owner) {
            tried.push(owner.clone());
        }
    }
    let pick = match &due.queue {
        Some(q) => pick_from_queue(&mut tx, q, now, &tried).await?,
        None => QueuePick::UnknownQueue,
    };
    let locked: Option<i32> = sqlx::query_scalar(
        "SELECT version FROM leads WHERE id = $1 AND state = 'routed' AND escalation_due_at <= $2 \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(due.id)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    if locked != Some(due.version) {
        return Ok(Escalated::Skipped);
    }
    let (kind, owner, next, outcome) = match &pick {
        QueuePick::Rep { rep, .. } => {
            tried.push(rep.clone());
            (
                "reassigned",
                Some(rep.as_str()),
                Some(deadline),
                Escalated::Reassigned,
            )
        }
        _ => ("returned_to_queue", None, None, Escalated::ReturnedToQueue),
    };
    sqlx::query(
        "WITH u AS ( \
           UPDATE leads SET owner = $2, tried_reps = $3, escalation_due_at = $4, \
             version = version + 1, updated_at = $5 WHERE id = $1 RETURNING id, cycle) \
         INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
           occurred_at, recorded_at) \
         SELECT id, cycle, $6, 'system', 'system', $2, \
           jsonb_build_object('from', $7::text, 'escalation_due_at', $4), $5, $5 FROM u",
    )
    .bind(due.id)
    .bind(owner)
    .bind(&tried)
    .bind(next)
    .bind(now)
    .bind(kind)
    .bind(&due.owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Gives a routed lead a new owner (or none) and maybe a new queue, with an `assigned` history
/// entry. Guarded by the version read; `None` when the lead changed or is no longer routed.
#[allow(clippy::too_many_arguments)]
pub async fn assign<'e>(
    db: impl sqlx::PgExecutor<'e>,
    current: &crate::db::leads::Lead,
    owner: Option<&str>,
    queue: Option<&str>,
    data: &serde_json::Value,
    actor: &str,
    role: &str,
    now: DateTime<Utc>,
) -> Result<Option<crate::db::leads::Lead>, sqlx::Error> {
    sqlx::query_as(
        "WITH u AS ( \
           UPDATE leads SET owner = $3, queue = COALESCE($4, queue), \
             tried_reps = CASE WHEN owner IS NULL OR owner = ANY(tried_reps) THEN tried_reps \
                               ELSE tried_reps || owner END, \
             version = version + 1, updated_at = $5 \
           WHERE id = $1 AND version = $2 AND state = 'routed' RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
             occurred_at, recorded_at) \
           SELECT id, cycle, 'assigned', $6, $7, $3, $8, $5, $5 FROM u) \
         SELECT * FROM u",
    )
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
