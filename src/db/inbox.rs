//! The SDR inbox (docs/pages.md): a rep's routed leads by decision due time, the unassigned
//! leads of the rep's queues, and the rep's accepted leads still waiting for a first touch.
//! Each list is capped; its total is counted apart. A `NULL` rep (a revops viewer who picked
//! nobody) reads every owner and every queue, through statements of their own so that the
//! per-rep ones keep their index plans.

use sqlx::{FromRow, PgPool};

use super::leads::LeadRow;

/// A lead waiting in a queue, with the queue's display name.
#[derive(Debug, Clone, FromRow)]
pub struct QueuedRow {
    #[sqlx(flatten)]
    pub lead: LeadRow,
    pub queue_name: String,
}

/// A queue of the rep and how many unassigned routed leads wait in it.
#[derive(Debug, Clone, FromRow)]
pub struct QueueWaiting {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub waiting: i64,
}

/// How many leads each list holds in all (the lists themselves are capped).
#[derive(Debug, Clone, Copy, Default, FromRow)]
pub struct Totals {
    pub mine: i64,
    pub untouched: i64,
}

// Ascending order puts NULLs last, as the index `leads_inbox_owner_idx` stores them.
const MINE: &str = "SELECT * FROM leads WHERE owner = $1 AND state = 'routed' \
     ORDER BY sla_due_at, id LIMIT $2";
const MINE_ALL: &str = "SELECT * FROM leads WHERE owner IS NOT NULL AND state = 'routed' \
     ORDER BY sla_due_at, id LIMIT $1";

const UNTOUCHED: &str = "SELECT * FROM leads WHERE owner = $1 AND state = 'accepted' \
     AND first_touched_at IS NULL ORDER BY first_touch_due_at, id LIMIT $2";
const UNTOUCHED_ALL: &str = "SELECT * FROM leads WHERE state = 'accepted' \
     AND first_touched_at IS NULL ORDER BY first_touch_due_at, id LIMIT $1";

const TOTALS: &str = "SELECT \
       (SELECT count(*) FROM leads WHERE owner = $1 AND state = 'routed') AS mine, \
       (SELECT count(*) FROM leads WHERE owner = $1 AND state = 'accepted' \
          AND first_touched_at IS NULL) AS untouched";
const TOTALS_ALL: &str = "SELECT \
       (SELECT count(*) FROM leads WHERE owner IS NOT NULL AND state = 'routed') AS mine, \
       (SELECT count(*) FROM leads WHERE state = 'accepted' \
          AND first_touched_at IS NULL) AS untouched";

const QUEUED: &str =
    "SELECT l.*, q.name AS queue_name FROM leads l JOIN queues q ON q.id = l.queue \
     WHERE l.state = 'routed' AND l.owner IS NULL \
       AND l.queue IN (SELECT queue_id FROM queue_members WHERE rep_id = $1) \
     ORDER BY l.sla_due_at, l.id LIMIT $2";
const QUEUED_ALL: &str =
    "SELECT l.*, q.name AS queue_name FROM leads l JOIN queues q ON q.id = l.queue \
     WHERE l.state = 'routed' AND l.owner IS NULL ORDER BY l.sla_due_at, l.id LIMIT $1";

const QUEUES: &str = "SELECT q.id, q.name, q.strategy, \
       (SELECT count(*) FROM leads l WHERE l.queue = q.id AND l.state = 'routed' \
          AND l.owner IS NULL) AS waiting \
     FROM queues q JOIN queue_members m ON m.queue_id = q.id WHERE m.rep_id = $1 ORDER BY q.id";
const QUEUES_ALL: &str = "SELECT q.id, q.name, q.strategy, \
       (SELECT count(*) FROM leads l WHERE l.queue = q.id AND l.state = 'routed' \
          AND l.owner IS NULL) AS waiting \
     FROM queues q ORDER BY q.id";

/// The routed leads of `rep` (of every owner when `None`), earliest due first.
pub async fn mine(
    pool: &PgPool,
    rep: Option<&str>,
    limit: i64,
) -> Result<Vec<LeadRow>, sqlx::Error> {
    match rep {
        Some(rep) => sqlx::query_as(MINE).bind(rep).bind(limit),
        None => sqlx::query_as(MINE_ALL).bind(limit),
    }
    .fetch_all(pool)
    .await
}

/// The accepted leads of `rep` without a first touch, first-touch due time first.
pub async fn untouched(
    pool: &PgPool,
    rep: Option<&str>,
    limit: i64,
) -> Result<Vec<LeadRow>, sqlx::Error> {
    match rep {
        Some(rep) => sqlx::query_as(UNTOUCHED).bind(rep).bind(limit),
        None => sqlx::query_as(UNTOUCHED_ALL).bind(limit),
    }
    .fetch_all(pool)
    .await
}

/// The unassigned routed leads of the queues `rep` belongs to, earliest due first.
pub async fn queued(
    pool: &PgPool,
    rep: Option<&str>,
    limit: i64,
) -> Result<Vec<QueuedRow>, sqlx::Error> {
    match rep {
        Some(rep) => sqlx::query_as(QUEUED).bind(rep).bind(limit),
        None => sqlx::query_as(QUEUED_ALL).bind(limit),
    }
    .fetch_all(pool)
    .await
}

/// The queues of `rep` (all queues when `None`) with their waiting counts.
pub async fn queues(pool: &PgPool, rep: Option<&str>) -> Result<Vec<QueueWaiting>, sqlx::Error> {
    match rep {
        Some(rep) => sqlx::query_as(QUEUES).bind(rep),
        None => sqlx::query_as(QUEUES_ALL),
    }
    .fetch_all(pool)
    .await
}

/// The totals of the capped lists.
pub async fn totals(pool: &PgPool, rep: Option<&str>) -> Result<Totals, sqlx::Error> {
    match rep {
        Some(rep) => sqlx::query_as(TOTALS).bind(rep),
        None => sqlx::query_as(TOTALS_ALL),
    }
    .fetch_one(pool)
    .await
}

statements!(
    MINE,
    MINE_ALL,
    UNTOUCHED,
    UNTOUCHED_ALL,
    TOTALS,
    TOTALS_ALL,
    QUEUED,
    QUEUED_ALL,
    QUEUES,
    QUEUES_ALL
);
