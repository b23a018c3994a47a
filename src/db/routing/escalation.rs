//! The escalation ladder's steps (docs/api.md §4): a breached lead of a `reassign` policy goes
//! to the next untried rep of its queue, and back to the queue when none is left.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

use super::pick::{choose, QueuePick, Rule};

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

const ESCALATIONS_DUE: &str =
    "SELECT id, version, cycle, lead_type, sla_policy, queue, owner, tried_reps FROM leads \
         WHERE state = 'routed' AND escalation_due_at <= $1 ORDER BY escalation_due_at LIMIT $2";

pub async fn escalations_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<Vec<EscalationDue>, sqlx::Error> {
    sqlx::query_as(ESCALATIONS_DUE)
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

const LOCK_DUE: &str =
    "SELECT version FROM leads WHERE id = $1 AND state = 'routed' AND escalation_due_at <= $2 \
         FOR UPDATE SKIP LOCKED";
const ESCALATE: &str = "WITH u AS ( \
           UPDATE leads SET owner = $2, tried_reps = $3, escalation_due_at = $4, \
             version = version + 1, updated_at = $5 WHERE id = $1 RETURNING id, cycle) \
         INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
           occurred_at, recorded_at) \
         SELECT id, cycle, $6, 'system', 'system', $2, \
           jsonb_build_object('from', $7::text, 'escalation_due_at', $4), $5, $5 FROM u";

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
    let pick = next_rung(&mut tx, due, now, &tried).await?;
    let locked: Option<i32> = sqlx::query_scalar(LOCK_DUE)
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
    sqlx::query(ESCALATE)
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

/// Who the ladder gives the lead to next: the next rep of its queue, not a round-robin turn, so
/// the ladder climbs in queue order and leaves ingest's turns alone.
async fn next_rung(
    tx: &mut sqlx::PgConnection,
    due: &EscalationDue,
    now: DateTime<Utc>,
    tried: &[String],
) -> Result<QueuePick, sqlx::Error> {
    match &due.queue {
        Some(q) => choose(tx, q, Rule::NextAfter(due.owner.as_deref()), now, tried).await,
        None => Ok(QueuePick::UnknownQueue),
    }
}

statements!(ESCALATIONS_DUE, LOCK_DUE, ESCALATE);
