//! Choosing a lead's owner from its queue: round-robin turns, queue snapshots, and the pick
//! inside the assigning transaction (capacity locks), by the rules of `domain::routing`.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

use crate::domain::routing::{eligible, next_in_queue, pick, pick_avoiding, Candidate, Strategy};

#[derive(FromRow)]
struct Member {
    id: String,
    active: bool,
    away_until: Option<DateTime<Utc>>,
    capacity: Option<i32>,
}

impl Member {
    /// Open leads are 0 until counted.
    fn candidate(self) -> Candidate {
        Candidate {
            id: self.id,
            active: self.active,
            away_until: self.away_until,
            capacity: self.capacity,
            open: 0,
        }
    }
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

const TAKE_TURN: &str =
    "SELECT nextval(rr_seq::regclass) FROM queues WHERE id = $1 AND strategy = 'round_robin'";

/// Takes the next round-robin turn of `queue` (`None` unless it is a round-robin queue) from the
/// queue's sequence: no row lock, no commit to wait for, so concurrent ingests stay concurrent
/// and every one gets a distinct turn. Call it before opening the transaction that assigns (it
/// uses a connection of its own). Turns taken by requests that then fail are skipped: that costs
/// a little fairness, never correctness.
pub async fn take_turn(pool: &PgPool, queue: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(TAKE_TURN)
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
    /// The queue sends leads to their account's owner when the account has one.
    pub sticky_account: bool,
    /// The reps who decided this lead in earlier cycles (people, not rules): routing passes
    /// them over while someone else is eligible.
    pub deciders: Vec<String>,
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
    pub sticky_account: bool,
}

const QUEUE_INFO: &str = "SELECT q.strategy, q.rr_seq, q.sticky_account, \
           COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.active ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.away_until ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.capacity ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') \
         FROM queues q LEFT JOIN queue_members m ON m.queue_id = q.id \
         LEFT JOIN reps r ON r.id = m.rep_id WHERE q.id = $1 \
         GROUP BY q.strategy, q.rr_seq, q.sticky_account";

/// Reads a queue and its members (no turn taken); `None` for an unknown queue.
pub async fn queue_info(pool: &PgPool, queue: &str) -> Result<Option<QueueInfo>, sqlx::Error> {
    type Row = (
        Strategy,
        Option<String>,
        bool,
        Vec<String>,
        Vec<bool>,
        Vec<Option<DateTime<Utc>>>,
        Vec<Option<i32>>,
    );
    let row: Option<Row> = sqlx::query_as(QUEUE_INFO)
        .bind(queue)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(
        |(strategy, rr_seq, sticky_account, ids, active, away, capacity)| QueueInfo {
            strategy,
            rr_seq,
            members: members(ids, active, away, capacity),
            sticky_account,
        },
    ))
}

const SNAPSHOT: &str = "WITH q AS (SELECT id, strategy, rr_seq, sticky_account FROM queues \
           WHERE id = $1) \
         SELECT q.strategy, q.sticky_account, \
           ARRAY(SELECT DISTINCT h.rep_id FROM leads l JOIN lead_history h ON h.lead_id = l.id \
             WHERE l.source = $2 AND l.external_id = $3 AND h.rep_id IS NOT NULL \
               AND h.kind IN ('accepted', 'rejected', 'recycled') \
               AND h.actor NOT LIKE 'rule:%' ORDER BY h.rep_id), \
           CASE WHEN q.strategy = 'round_robin' AND NOT EXISTS ( \
                  SELECT 1 FROM leads WHERE source = $2 AND external_id = $3 \
                  AND state IN ('routed', 'accepted')) \
                THEN nextval(q.rr_seq::regclass) END, \
           COALESCE(array_agg(r.id ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.active ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.away_until ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}'), \
           COALESCE(array_agg(r.capacity ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '{}') \
         FROM q LEFT JOIN queue_members m ON m.queue_id = q.id LEFT JOIN reps r ON r.id = m.rep_id \
         GROUP BY q.strategy, q.rr_seq, q.sticky_account";

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
        bool,
        Vec<String>,
        Option<i64>,
        Vec<String>,
        Vec<bool>,
        Vec<Option<DateTime<Utc>>>,
        Vec<Option<i32>>,
    );
    let row: Option<Row> = sqlx::query_as(SNAPSHOT)
        .bind(queue)
        .bind(source)
        .bind(external_id)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(
        |(strategy, sticky_account, deciders, turn, ids, active, away, capacity)| QueueSnapshot {
            strategy,
            turn,
            members: members(ids, active, away, capacity),
            sticky_account,
            deciders,
        },
    ))
}

/// Picks an owner from `queue` by its strategy, inside the caller's transaction `tx`, using a
/// round-robin `turn` from [`take_turn`]. A rep with a capacity is locked in `tx` and its open
/// leads counted before it is given the lead, so capacity holds under concurrency; least-loaded
/// locks all candidates. Locks are taken queue → reps → lead everywhere, so ingest, assign and
/// escalation never deadlock.
pub async fn pick_from_queue(
    tx: &mut sqlx::PgConnection,
    queue: &str,
    turn: Option<i64>,
    now: DateTime<Utc>,
    avoid: &[String],
) -> Result<QueuePick, sqlx::Error> {
    choose(tx, queue, Rule::Turn { turn, avoid }, now, &[]).await
}

/// How a round-robin queue chooses among its eligible members.
#[derive(Debug, Clone, Copy)]
pub(super) enum Rule<'a> {
    /// Ingest and assign: the turn (from [`take_turn`]) decides, passing over `avoid` (earlier
    /// deciders) while someone else is eligible.
    Turn {
        turn: Option<i64>,
        avoid: &'a [String],
    },
    /// The escalation ladder: the next member after this owner, in queue order.
    NextAfter(Option<&'a str>),
}

const QUEUE_STRATEGY: &str = "SELECT strategy FROM queues WHERE id = $1";
const MEMBERS: &str = "SELECT r.id, r.active, r.away_until, r.capacity FROM queue_members m \
         JOIN reps r ON r.id = m.rep_id WHERE m.queue_id = $1 ORDER BY r.id";

/// [`pick_from_queue`] with the round-robin rule to follow. A least-loaded queue takes the least
/// loaded eligible member either way; a claim queue assigns nobody.
pub(super) async fn choose(
    tx: &mut sqlx::PgConnection,
    queue: &str,
    rule: Rule<'_>,
    now: DateTime<Utc>,
    exclude: &[String],
) -> Result<QueuePick, sqlx::Error> {
    let strategy: Option<Strategy> = sqlx::query_scalar(QUEUE_STRATEGY)
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
    let mut candidates: Vec<Candidate> = sqlx::query_as::<_, Member>(MEMBERS)
        .bind(queue)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(Member::candidate)
        .collect();
    // Only members eligible before counting can be given the lead: those with a capacity are
    // locked and counted (least loaded: all of them); the others need neither.
    let to_count: Vec<String> = eligible(&candidates, now, exclude)
        .into_iter()
        .filter(|c| strategy == Strategy::LeastLoaded || c.capacity.is_some())
        .map(|c| c.id.clone())
        .collect();
    if eligible(&candidates, now, exclude).is_empty() {
        return Ok(nobody);
    }
    if !to_count.is_empty() {
        lock_and_count(tx, &mut candidates, &to_count).await?;
    }
    // The turn indexes the reps still eligible once counted, so a full rep passes its turn on.
    let chosen = match (strategy, rule) {
        (Strategy::RoundRobin, Rule::NextAfter(owner)) => {
            next_in_queue(&candidates, owner, now, exclude).map(|c| c.id.clone())
        }
        (_, Rule::Turn { turn, avoid }) => {
            let turn = turn.unwrap_or(0);
            pick_avoiding(strategy, &candidates, turn, now, exclude, avoid).map(|p| p.rep)
        }
        (_, Rule::NextAfter(_)) => pick(strategy, &candidates, 0, now, exclude).map(|p| p.rep),
    };
    Ok(match chosen {
        Some(rep) => QueuePick::Rep { rep, strategy },
        None => nobody,
    })
}

const LOCK_REPS: &str = "SELECT id FROM reps WHERE id = ANY($1) ORDER BY id FOR UPDATE";
const OPEN_COUNTS: &str =
    "SELECT owner, count(*) FROM leads WHERE state = 'routed' AND owner = ANY($1) GROUP BY owner";

/// Locks the rows of the reps `ids` (in id order) and fills in their open leads among
/// `candidates`, counted after the locks are held so that every lead committed by an earlier
/// holder is seen.
async fn lock_and_count(
    tx: &mut sqlx::PgConnection,
    candidates: &mut [Candidate],
    ids: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(LOCK_REPS).bind(ids).execute(&mut *tx).await?;
    let loads: Vec<(String, i64)> = sqlx::query_as(OPEN_COUNTS)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
    for c in candidates.iter_mut().filter(|c| ids.contains(&c.id)) {
        c.open = loads
            .iter()
            .find(|(o, _)| *o == c.id)
            .map_or(0, |(_, n)| *n);
    }
    Ok(())
}

statements!(
    TAKE_TURN,
    QUEUE_INFO,
    SNAPSHOT,
    QUEUE_STRATEGY,
    MEMBERS,
    LOCK_REPS,
    OPEN_COUNTS
);
