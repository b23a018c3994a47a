//! Claims: an SDR of a queue takes one of its unassigned routed leads. Each claim locks the
//! lead it takes with `FOR UPDATE SKIP LOCKED`, so concurrent claimers never get the same one.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::{db::leads::LeadRow, domain::claim_order::ClaimOrder};

const MEMBER_CLAIM_ORDER: &str = "SELECT q.claim_order FROM queues q \
         JOIN queue_members m ON m.queue_id = q.id AND m.rep_id = $2 WHERE q.id = $1";

/// The claim order of `queue` when `rep` is one of its members; `None` when not.
pub async fn member_claim_order(
    pool: &PgPool,
    queue: &str,
    rep: &str,
) -> Result<Option<ClaimOrder>, sqlx::Error> {
    sqlx::query_scalar(MEMBER_CLAIM_ORDER)
        .bind(queue)
        .bind(rep)
        .fetch_optional(pool)
        .await
}

/// A claim: `$1` the queue, `$2` the rep, `$3` the actor, `$4` the time, `$5` the history
/// entry's `data`; `c` picks the one lead (locked, skipping leads another claimer holds).
macro_rules! claim {
    ($pick:literal) => {
        concat!(
            "WITH c AS (",
            $pick,
            "), \
         u AS ( \
           UPDATE leads l SET owner = $2, version = l.version + 1, updated_at = $4 \
           FROM c WHERE l.id = c.id RETURNING l.*), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
             occurred_at, recorded_at) \
           SELECT id, cycle, 'assigned', $3, 'sdr', $2, $5, $4, $4 FROM u) \
         SELECT * FROM u"
        )
    };
}

/// The earliest due.
const CLAIM: &str = claim!(
    "SELECT id FROM leads WHERE queue = $1 AND state = 'routed' AND owner IS NULL \
     ORDER BY sla_due_at NULLS LAST, id LIMIT 1 FOR UPDATE SKIP LOCKED"
);

/// The first of `$6` (lead ids in the order to try them) still unassigned in the queue.
const CLAIM_AMONG: &str = claim!(
    "SELECT id FROM leads WHERE id = ANY($6) AND queue = $1 AND state = 'routed' \
     AND owner IS NULL ORDER BY array_position($6, id) LIMIT 1 FOR UPDATE SKIP LOCKED"
);

/// Gives `rep` the most urgent unassigned routed lead of `queue` (earliest due), with an
/// `assigned` history entry; `None` when there is none.
pub async fn claim(
    pool: &PgPool,
    queue: &str,
    rep: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as(CLAIM)
        .bind(queue)
        .bind(rep)
        .bind(actor)
        .bind(now)
        .bind(serde_json::json!({"via": "claim"}))
        .fetch_optional(pool)
        .await
}

/// Gives `rep` the first of `ids` still unassigned and routed in `queue`, with an `assigned`
/// entry noting the order it was claimed in; `None` when another claimer got each of them.
pub async fn claim_among(
    pool: &PgPool,
    queue: &str,
    ids: &[Uuid],
    rep: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    let data = serde_json::json!({"via": "claim", "order": ClaimOrder::LikelyAccepted.as_str()});
    sqlx::query_as(CLAIM_AMONG)
        .bind(queue)
        .bind(rep)
        .bind(actor)
        .bind(now)
        .bind(data)
        .bind(ids)
        .fetch_optional(pool)
        .await
}

/// A claimable lead as a `likely_accepted` claim ranks it.
#[derive(Debug, FromRow)]
pub struct Candidate {
    pub id: Uuid,
    /// `FeatureVector::encode`; `None` for a lead stored before features were.
    pub features: Option<String>,
}

const CANDIDATES: &str = "SELECT id, features FROM leads \
         WHERE queue = $1 AND state = 'routed' AND owner IS NULL \
         ORDER BY sla_due_at NULLS LAST, id LIMIT $2";

/// The `limit` most urgent unassigned routed leads of `queue`, the earliest due first.
pub async fn candidates(
    pool: &PgPool,
    queue: &str,
    limit: i64,
) -> Result<Vec<Candidate>, sqlx::Error> {
    sqlx::query_as(CANDIDATES)
        .bind(queue)
        .bind(limit)
        .fetch_all(pool)
        .await
}

statements!(MEMBER_CLAIM_ORDER, CLAIM, CLAIM_AMONG, CANDIDATES);
