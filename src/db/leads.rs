//! Leads. Every state change is one guarded statement that also appends its history row, so
//! the change and its log entry commit together or not at all.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::judge::Found;
use crate::domain::{
    identity::Identity, lead::Decided, sla::SlaStatus, Actor, Command, LeadState, Role,
};

// `cycle_facts!` is shared with `many`.
#[macro_use]
pub(super) mod cycle;
pub(super) mod many;
pub use cycle::{insert_new, insert_new_round_robin_cached, reroute};
pub use many::{
    insert_many, insert_many_round_robin, insert_many_rows, BatchItem, GroupRow, InsertedLead,
};

/// A row of `leads`, as queries return it and as the outbox trigger snapshots it
/// (`to_jsonb(leads)`, read back with `Deserialize`). The API's view of it is
/// `crate::views::lead::Lead` (`into_view`).
#[derive(Debug, Clone, Deserialize, FromRow)]
pub struct LeadRow {
    pub id: Uuid,
    pub source: String,
    pub external_id: String,
    pub lead_type: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub company: Option<Value>,
    pub score: Option<f64>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    pub attributes: Value,
    pub state: LeadState,
    pub cycle: i32,
    pub routed_at: DateTime<Utc>,
    pub accepted_by: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_within_sla: Option<bool>,
    pub rejected_by: Option<String>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub rejection_code: Option<String>,
    pub recycled_by: Option<String>,
    pub recycled_at: Option<DateTime<Utc>>,
    pub recycle_reason: Option<String>,
    pub decision_note: Option<String>,
    pub next_action: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sla_policy: Option<String>,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub sla_at_risk_at: Option<DateTime<Utc>>,
    pub sla_breached_at: Option<DateTime<Utc>>,
    pub first_touch_due_at: Option<DateTime<Utc>>,
    pub first_touched_at: Option<DateTime<Utc>>,
    pub first_touch_breached_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub account_id: Option<Uuid>,
    #[serde(default)]
    pub possible_duplicates: Option<sqlx::types::Json<Vec<super::judge::Duplicate>>>,
    /// The current cycle's features (`FeatureVector::encode`); null for a lead stored before
    /// features were. Read by the acceptance model's predictions.
    #[serde(default)]
    pub features: Option<String>,
}

/// What a new cycle starts with besides the lead's data: its deadlines from the policy, and a
/// note on how its owner was chosen (the `data` of its `routed` history entry).
#[derive(Debug, Clone)]
pub struct CycleSla {
    pub policy: String,
    pub due_at: DateTime<Utc>,
    pub at_risk_at: DateTime<Utc>,
    pub routing_note: Option<serde_json::Value>,
    /// The lead's duplicate and account keys, stored with it.
    pub identity: Identity,
    /// Its account and possible duplicates, as ingest found them.
    pub found: Found,
    /// The features it is routed with (`FeatureVector::encode`), stored with the lead and in
    /// its `routed` entry.
    pub features: String,
}

/// The actor columns of a history row.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    pub actor: &'a str,
    pub role: Role,
}

impl<'a> Who<'a> {
    pub fn new(actor: &'a str, a: &Actor) -> Self {
        Who {
            actor,
            role: a.role,
        }
    }
}

const GET: &str = "SELECT * FROM leads WHERE id = $1";

pub async fn get<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as(GET).bind(id).fetch_optional(db).await
}

const GET_BY_EXTERNAL: &str = "SELECT * FROM leads WHERE source = $1 AND external_id = $2";

pub async fn get_by_external<'e>(
    db: impl sqlx::PgExecutor<'e>,
    source: &str,
    external_id: &str,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as(GET_BY_EXTERNAL)
        .bind(source)
        .bind(external_id)
        .fetch_optional(db)
        .await
}

/// A decision the domain allowed, with the free text that goes with it.
pub struct DecisionWrite<'a> {
    pub decided: &'a Decided,
    pub command: &'a Command,
    pub note: Option<&'a str>,
    pub next_action: Option<&'a str>,
    /// For an accept: when the first touch is due.
    pub first_touch_due_at: Option<DateTime<Utc>>,
    /// For a `duplicate` rejection: the lead it duplicates.
    pub duplicate_of: Option<Uuid>,
}

/// A decision's statement: sets `state`, `owner` (`$4`, the deciding rep), the decision's own
/// columns (`set`), and appends its history entry with `data`. Shared binds: `$1` id, `$2`/`$3`
/// the state and version decided on, `$5` now, `$6` code or reason, `$7` note, `$8` next
/// action, `$9` new state, `$10`/`$11` actor, `$12` entry data, `$13` first touch due.
macro_rules! decision_sql {
    ($set:literal, $data:literal) => {
        concat!(
            // `binds` names the types of the parameters one of the three leaves unused, so
            // each prepares on its own and all three take the same binds.
            "WITH binds AS (SELECT $8::text AS next_action, $12::jsonb AS data, \
               $13::timestamptz AS first_touch_due_at), \
             u AS ( \
               UPDATE leads SET state = $9, owner = $4, decision_note = $7, ",
            $set,
            ", version = version + 1, updated_at = $5 \
               WHERE id = $1 AND state = $2 AND version = $3 \
               RETURNING *), \
             h AS ( \
               INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
                 actor_role, rep_id, code, note, data, occurred_at, recorded_at) \
               SELECT id, cycle, $9, $2, $9, $10, $11, $4, $6, $7, ",
            $data,
            ", $5, $5 FROM u) \
             SELECT * FROM u"
        )
    };
}

/// An accept's entry records what reports need of it: whether it met the SLA and when the first
/// touch is due.
const ACCEPT: &str = decision_sql!(
    "accepted_by = $4, accepted_at = $5, next_action = $8, \
     accepted_within_sla = ($5 <= sla_due_at), first_touch_due_at = $13",
    "jsonb_strip_nulls(jsonb_build_object('next_action', $8::text, \
     'accepted_within_sla', accepted_within_sla, 'first_touch_due_at', first_touch_due_at))"
);
const REJECT: &str = decision_sql!(
    "rejected_by = $4, rejected_at = $5, rejection_code = $6",
    "$12"
);
const RECYCLE: &str = decision_sql!(
    "recycled_by = $4, recycled_at = $5, recycle_reason = $6",
    "$12"
);

/// Applies a decision. Guarded by the state and version it was decided on; `None` when the
/// lead changed in between (the caller re-reads and decides again).
pub async fn apply_decision<'e>(
    db: impl sqlx::PgExecutor<'e>,
    current: &LeadRow,
    write: &DecisionWrite<'_>,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    let DecisionWrite {
        decided,
        command,
        note,
        next_action,
        first_touch_due_at,
        duplicate_of,
    } = write;
    let (sql, code) = match command {
        Command::Accept => (ACCEPT, None),
        Command::Reject { code, .. } => (REJECT, Some(code.as_str())),
        Command::Recycle { reason, .. } => (RECYCLE, Some(reason.as_str())),
    };
    let data = match (next_action, duplicate_of) {
        (Some(n), _) => Some(serde_json::json!({ "next_action": n })),
        (None, Some(d)) => Some(serde_json::json!({ "duplicate_of": d })),
        (None, None) => None,
    };
    sqlx::query_as(sql)
        .bind(current.id)
        .bind(decided.from)
        .bind(current.version)
        .bind(&decided.rep)
        .bind(now)
        .bind(code)
        .bind(note)
        .bind(next_action)
        .bind(decided.to)
        .bind(who.actor)
        .bind(who.role)
        .bind(data)
        .bind(first_touch_due_at)
        .fetch_optional(db)
        .await
}

const RECORD_TOUCH: &str = "WITH u AS ( \
           UPDATE leads SET first_touched_at = COALESCE(first_touched_at, $3), \
             version = version + 1, updated_at = $4 \
           WHERE id = $1 AND version = $2 RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
             occurred_at, recorded_at) \
           SELECT id, cycle, 'touched', $5, $6, $7, \
             jsonb_build_object('channel', $8::text, 'first', $9::boolean), $3, $4 FROM u) \
         SELECT * FROM u";

/// Records a touch (call, email, …). The first one of the cycle sets `first_touched_at`.
/// Guarded by the version read; `None` when the lead changed meanwhile.
pub async fn record_touch(
    pool: &PgPool,
    current: &LeadRow,
    channel: &str,
    at: DateTime<Utc>,
    who: &Who<'_>,
    rep: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as(RECORD_TOUCH)
        .bind(current.id)
        .bind(current.version)
        .bind(at)
        .bind(now)
        .bind(who.actor)
        .bind(who.role)
        .bind(rep)
        .bind(channel)
        .bind(current.first_touched_at.is_none())
        .fetch_optional(pool)
        .await
}

/// Filters of `GET /v1/leads`; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct LeadFilter {
    /// Only what this caller may see (`domain::visibility::may_see`); `None`: everything.
    pub visible_to: Option<Actor>,
    pub state: Option<LeadState>,
    /// Evaluated at the `now` passed to [`list`], like the `sla.status` of each lead.
    pub sla_status: Option<SlaStatus>,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub source: Option<String>,
    pub lead_type: Option<String>,
    /// Keyset cursor: only leads with a larger id.
    pub after: Option<Uuid>,
}

/// Leads in id (creation) order, at most `limit`.
pub async fn list(
    pool: &PgPool,
    filter: &LeadFilter,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<LeadRow>, sqlx::Error> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new("SELECT * FROM leads WHERE true");
    if let Some(status) = filter.sla_status {
        super::sla_status::push_filter(&mut q, status, now);
    }
    if let Some(actor) = &filter.visible_to {
        super::visibility::push_visible_to(&mut q, actor);
    }
    if let Some(s) = filter.state {
        q.push(" AND state = ").push_bind(s);
    }
    if let Some(v) = &filter.owner {
        q.push(" AND owner = ").push_bind(v);
    }
    if let Some(v) = &filter.queue {
        q.push(" AND queue = ").push_bind(v);
    }
    if let Some(v) = &filter.source {
        q.push(" AND source = ").push_bind(v);
    }
    if let Some(v) = &filter.lead_type {
        q.push(" AND lead_type = ").push_bind(v);
    }
    if let Some(after) = filter.after {
        q.push(" AND id > ").push_bind(after);
    }
    q.push(" ORDER BY id LIMIT ").push_bind(limit);
    q.build_query_as().fetch_all(pool).await
}

statements!(GET, GET_BY_EXTERNAL, ACCEPT, REJECT, RECYCLE, RECORD_TOUCH);
