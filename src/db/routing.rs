//! Queues and reps.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::Digest;
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
    #[schema(value_type = String)]
    pub strategy: Strategy,
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
    strategy: Strategy,
    now: DateTime<Utc>,
) -> Result<Queue, sqlx::Error> {
    // The queue's round-robin sequence; its name derives from the id (ids are free text).
    let digest = sha2::Sha256::digest(id.as_bytes());
    let seq = format!("queue_rr_{}", hex::encode(&digest[..12]));
    sqlx::query(&format!(
        "CREATE SEQUENCE IF NOT EXISTS {seq} MINVALUE 0 START 0"
    ))
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO queues (id, name, calendar_id, strategy, rr_seq, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $6, $5, $5) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, calendar_id = EXCLUDED.calendar_id, \
           strategy = EXCLUDED.strategy, rr_seq = EXCLUDED.rr_seq, updated_at = EXCLUDED.updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(calendar)
    .bind(strategy)
    .bind(now)
    .bind(&seq)
    .execute(pool)
    .await?;
    // Nothing deletes queues; should one vanish in between, that is an error, not a panic.
    queue(pool, id).await?.ok_or(sqlx::Error::RowNotFound)
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
        let row: Option<(bool, bool)> = sqlx::query_as(
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
        strategy: Strategy,
    },
    Rep {
        rep: String,
        strategy: Strategy,
    },
}

/// Takes the next round-robin turn of `queue` (`None` unless it is a round-robin queue) from the
/// queue's sequence: no row lock, no commit to wait for, so concurrent ingests stay concurrent
/// and every one gets a distinct turn. Call it before opening the transaction that assigns (it
/// uses a connection of its own). Turns taken by requests that then fail are skipped: that costs
/// a little fairness, never correctness.
pub async fn take_turn(pool: &PgPool, queue: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT nextval(rr_seq::regclass) FROM queues WHERE id = $1 AND strategy = 'round_robin'",
    )
    .bind(queue)
    .fetch_optional(pool)
    .await
}

/// A queue's strategy, its members, and (for round robin) a fresh turn, read in one statement.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    pub strategy: Strategy,
    pub turn: Option<i64>,
    pub members: Vec<Candidate>,
}

/// Members from the parallel arrays the queue queries aggregate (reps in id order).
fn members(
    ids: Vec<String>,
    active: Vec<bool>,
    away: Vec<Option<DateTime<Utc>>>,
    capacity: Vec<Option<i32>>,
) -> Vec<Candidate> {
    ids.into_iter()
        .zip(active)
        .zip(away)
        .zip(capacity)
        .map(|(((id, active), away_until), capacity)| Candidate {
            id,
            active,
            away_until,
            capacity,
            open: 0,
        })
        .collect()
}

/// A queue as routing needs it: strategy, round-robin sequence, members in id order.
#[derive(Debug, Clone)]
pub struct QueueInfo {
    pub strategy: Strategy,
    pub rr_seq: Option<String>,
    pub members: Vec<Candidate>,
}

/// Reads a queue and its members (no turn taken); `None` for an unknown queue.
pub async fn queue_info(pool: &PgPool, queue: &str) -> Result<Option<QueueInfo>, sqlx::Error> {
    type Row = (
        Strategy,
        Option<String>,
        Vec<String>,
        Vec<bool>,
        Vec<Option<DateTime<Utc>>>,
        Vec<Option<i32>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT q.strategy, q.rr_seq, \
           COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.active ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.away_until ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.capacity ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') \
         FROM queues q LEFT JOIN queue_members m ON m.queue_id = q.id \
         LEFT JOIN reps r ON r.id = m.rep_id WHERE q.id = $1 GROUP BY q.strategy, q.rr_seq",
    )
    .bind(queue)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(strategy, rr_seq, ids, active, away, capacity)| QueueInfo {
            strategy,
            rr_seq,
            members: members(ids, active, away, capacity),
        },
    ))
}

/// [`take_turn`] and the members in one round trip; `None` for an unknown queue. No turn is
/// taken when the lead `(source, external_id)` exists and is open or accepted (a re-sent MQL
/// costs nobody a turn). Open-lead counts are not read (they are 0 here): callers needing them
/// lock and count in a transaction.
pub async fn snapshot(
    pool: &PgPool,
    queue: &str,
    source: &str,
    external_id: &str,
) -> Result<Option<QueueSnapshot>, sqlx::Error> {
    type Row = (
        Strategy,
        Option<i64>,
        Vec<String>,
        Vec<bool>,
        Vec<Option<DateTime<Utc>>>,
        Vec<Option<i32>>,
    );
    let row: Option<Row> = sqlx::query_as(
        "WITH q AS (SELECT id, strategy, rr_seq FROM queues WHERE id = $1) \
         SELECT q.strategy, \
           CASE WHEN q.strategy = 'round_robin' AND NOT EXISTS ( \
                  SELECT 1 FROM leads WHERE source = $2 AND external_id = $3 \
                  AND state IN ('routed', 'accepted')) \
                THEN nextval(q.rr_seq::regclass) END, \
           COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.active ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.away_until ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.capacity ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') \
         FROM q LEFT JOIN queue_members m ON m.queue_id = q.id LEFT JOIN reps r ON r.id = m.rep_id \
         GROUP BY q.strategy, q.rr_seq",
    )
    .bind(queue)
    .bind(source)
    .bind(external_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(strategy, turn, ids, active, away, capacity)| QueueSnapshot {
            strategy,
            turn,
            members: members(ids, active, away, capacity),
        },
    ))
}

/// Picks an owner from `queue` by its strategy, inside the caller's transaction `tx`, using a
/// round-robin `turn` from [`take_turn`]. A rep with a capacity is locked in `tx` and its open leads counted before it is
/// given the lead, so capacity holds under concurrency; least-loaded locks all candidates.
/// Locks are taken queue → reps → lead everywhere, so ingest, assign and escalation never
/// deadlock.
pub async fn pick_from_queue(
    tx: &mut sqlx::PgConnection,
    queue: &str,
    turn: Option<i64>,
    now: DateTime<Utc>,
    exclude: &[String],
) -> Result<QueuePick, sqlx::Error> {
    let strategy: Option<Strategy> =
        sqlx::query_scalar("SELECT strategy FROM queues WHERE id = $1")
            .bind(queue)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(strategy) = strategy else {
        return Ok(QueuePick::UnknownQueue);
    };
    let nobody = QueuePick::Nobody { strategy };
    if strategy == Strategy::Claim {
        return Ok(nobody);
    }
    let members: Vec<Member> = sqlx::query_as(
        "SELECT r.id, r.active, r.away_until, r.capacity FROM queue_members m \
         JOIN reps r ON r.id = m.rep_id WHERE m.queue_id = $1 ORDER BY r.id",
    )
    .bind(queue)
    .fetch_all(&mut *tx)
    .await?;
    let mut candidates: Vec<Candidate> = members
        .into_iter()
        .filter(|m| !exclude.contains(&m.id))
        .map(|m| Candidate {
            id: m.id,
            active: m.active,
            away_until: m.away_until,
            capacity: m.capacity,
            open: 0,
        })
        .filter(|c| c.eligible(now))
        .collect();
    if candidates.is_empty() {
        return Ok(nobody);
    }
    let chosen = match strategy {
        Strategy::RoundRobin => {
            let turn = turn.unwrap_or(0);
            // Reps with a capacity are locked and counted; the others need neither.
            let mut capped: Vec<Candidate> = candidates
                .iter()
                .filter(|c| c.capacity.is_some())
                .cloned()
                .collect();
            if !capped.is_empty() {
                lock_and_count(tx, &mut capped).await?;
                for c in candidates.iter_mut() {
                    if let Some(counted) = capped.iter().find(|k| k.id == c.id) {
                        c.open = counted.open;
                    }
                }
            }
            // The turn indexes the reps still eligible, so a full rep passes its turn on.
            pick(strategy, &candidates, turn, now, &[]).map(|p| p.rep)
        }
        _ => {
            lock_and_count(tx, &mut candidates).await?;
            pick(strategy, &candidates, 0, now, &[]).map(|p| p.rep)
        }
    };
    Ok(match chosen {
        Some(rep) => QueuePick::Rep { rep, strategy },
        None => nobody,
    })
}

/// Locks the reps' rows (in id order) and fills in their open leads, counted after the locks
/// are held so that every lead committed by an earlier holder is seen.
async fn lock_and_count(
    tx: &mut sqlx::PgConnection,
    reps: &mut [Candidate],
) -> Result<(), sqlx::Error> {
    let ids: Vec<&str> = reps.iter().map(|c| c.id.as_str()).collect();
    sqlx::query("SELECT id FROM reps WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    let loads: Vec<(String, i64)> = sqlx::query_as(
        "SELECT owner, count(*) FROM leads WHERE state = 'routed' AND owner = ANY($1) GROUP BY owner",
    )
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    for c in reps.iter_mut() {
        c.open = loads
            .iter()
            .find(|(o, _)| *o == c.id)
            .map_or(0, |(_, n)| *n);
    }
    Ok(())
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
) -> Result<Option<crate::db::leads::LeadRow>, sqlx::Error> {
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
    let turn = match &due.queue {
        Some(q) => take_turn(pool, q).await?,
        None => None,
    };
    let mut tx = pool.begin().await?;
    let mut tried = due.tried_reps.clone();
    if let Some(owner) = &due.owner {
        if !tried.contains(owner) {
            tried.push(owner.clone());
        }
    }
    let pick = match &due.queue {
        Some(q) => pick_from_queue(&mut tx, q, turn, now, &tried).await?,
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
    current: &crate::db::leads::LeadRow,
    owner: Option<&str>,
    queue: Option<&str>,
    data: &serde_json::Value,
    actor: &str,
    role: crate::domain::Role,
    now: DateTime<Utc>,
) -> Result<Option<crate::db::leads::LeadRow>, sqlx::Error> {
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
