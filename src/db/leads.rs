//! Leads. Every state change is one guarded statement that also appends its history row, so
//! the change and its log entry commit together or not at all.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{Connection, FromRow, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::{
    lead::Decided, lead_input::NewLead, sla::SlaStatus, Actor, Command, LeadState, Role,
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
}

/// What a new cycle starts with besides the lead's data: its deadlines from the policy, and a
/// note on how its owner was chosen (the `data` of its `routed` history entry).
#[derive(Debug, Clone)]
pub struct CycleSla {
    pub policy: String,
    pub due_at: DateTime<Utc>,
    pub at_risk_at: DateTime<Utc>,
    pub routing_note: Option<serde_json::Value>,
}

/// The actor columns of a history row.
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

/// The facts of a cycle its `routed` history entry records, so reports can be rebuilt from the
/// log alone (`lead_cycles_apply` in the migrations reads them). Evaluated over the row just
/// written.
const CYCLE_FACTS: &str = "jsonb_strip_nulls(jsonb_build_object('source', source, \
    'lead_type', lead_type, 'campaign', campaign, 'channel', channel, 'queue', queue, \
    'sla_due_at', sla_due_at))";

fn with_cycle_facts(sql: &str) -> String {
    sql.replace("{CYCLE_FACTS}", CYCLE_FACTS)
}

static INSERT_NEW_SQL: LazyLock<String> = LazyLock::new(|| {
    with_cycle_facts(
        "WITH ins AS ( \
           INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, \
             title, phone, company, score, campaign, channel, queue, owner, attributes, state, \
             cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             'routed', 1, $17, $18, $18, $21, $22, $23) \
           ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, 1, 'routed', NULL, 'routed', $19, $20, owner, \
             {CYCLE_FACTS} || COALESCE($24, '{}'::jsonb), routed_at, $18 FROM ins) \
         SELECT * FROM ins",
    )
});

static REROUTE_SQL: LazyLock<String> = LazyLock::new(|| {
    with_cycle_facts(
        "WITH u AS ( \
           UPDATE leads SET lead_type = $4, email = COALESCE($5, email), \
             first_name = COALESCE($6, first_name), last_name = COALESCE($7, last_name), \
             title = COALESCE($8, title), phone = COALESCE($9, phone), \
             company = COALESCE($10, company), score = COALESCE($11, score), \
             campaign = COALESCE($12, campaign), channel = COALESCE($13, channel), \
             queue = COALESCE($14, queue), owner = $15, attributes = attributes || $16, \
             state = 'routed', cycle = cycle + 1, routed_at = $17, \
             accepted_by = NULL, accepted_at = NULL, accepted_within_sla = NULL, \
             rejected_by = NULL, rejected_at = NULL, rejection_code = NULL, \
             recycled_by = NULL, recycled_at = NULL, recycle_reason = NULL, \
             decision_note = NULL, next_action = NULL, \
             sla_policy = $21, sla_due_at = $22, sla_at_risk_at = $23, \
             sla_at_risk_flagged_at = NULL, sla_breached_at = NULL, first_touch_due_at = NULL, \
             first_touched_at = NULL, first_touch_breached_at = NULL, \
             escalation_due_at = NULL, tried_reps = '{}', \
             version = version + 1, updated_at = $18 \
           WHERE id = $1 AND state = $2 AND version = $3 \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, cycle, 'routed', $2, 'routed', $19, $20, owner, \
             {CYCLE_FACTS} || COALESCE($24, '{}'::jsonb), routed_at, $18 FROM u) \
         SELECT * FROM u",
    )
});

/// Inserts a new lead in cycle 1 with its `routed` history row. `None` when a lead with the
/// same `(source, external_id)` already exists (nothing is written then).
pub async fn insert_new<'e>(
    db: impl sqlx::PgExecutor<'e>,
    lead: &NewLead,
    sla: &CycleSla,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    let query = sqlx::query_as(INSERT_NEW_SQL.as_str())
        .bind(Uuid::now_v7())
        .bind(&lead.source)
        .bind(&lead.external_id);
    bind_cycle(query, lead, sla, who, now)
        .fetch_optional(db)
        .await
}

/// A new lead of a batch, with its cycle's deadlines and routing note.
pub struct BatchItem<'a> {
    pub lead: &'a NewLead,
    pub sla: &'a CycleSla,
}

/// Inserts many new leads (cycle 1) and their `routed` entries in one statement. Leads whose
/// `(source, external_id)` exists already, or repeats an earlier item, are skipped; the result
/// has the inserted ones (any order): the caller takes the others through the one-lead path.
/// What a batch needs back of each lead it inserted: not the whole row, whose attributes (up to
/// 32 KiB each) would be decoded again for a thousand leads.
#[derive(Debug, FromRow)]
pub struct InsertedLead {
    pub id: Uuid,
    pub source: String,
    pub external_id: String,
    pub cycle: i32,
    pub state: LeadState,
    pub owner: Option<String>,
}

pub async fn insert_many(
    pool: &PgPool,
    items: &[BatchItem<'_>],
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<InsertedLead>, sqlx::Error> {
    let n = items.len();
    let mut ids = Vec::with_capacity(n);
    let (mut source, mut external_id, mut lead_type) = (vec![], vec![], vec![]);
    let (mut email, mut first_name, mut last_name) = (vec![], vec![], vec![]);
    let (mut title, mut phone, mut company, mut score) = (vec![], vec![], vec![], vec![]);
    let (mut campaign, mut channel, mut queue, mut owner) = (vec![], vec![], vec![], vec![]);
    let (mut attributes, mut routed_at) = (vec![], vec![]);
    let (mut policy, mut due_at, mut at_risk_at, mut note) = (vec![], vec![], vec![], vec![]);
    for BatchItem { lead, sla } in items {
        ids.push(Uuid::now_v7());
        source.push(lead.source.as_str());
        external_id.push(lead.external_id.as_str());
        lead_type.push(lead.lead_type.as_str());
        email.push(lead.email.as_deref());
        first_name.push(lead.first_name.as_deref());
        last_name.push(lead.last_name.as_deref());
        title.push(lead.title.as_deref());
        phone.push(lead.phone.as_deref());
        company.push(lead.company.as_ref().map(|c| serde_json::json!(c)));
        score.push(lead.score);
        campaign.push(lead.campaign.as_deref());
        channel.push(lead.channel.as_deref());
        queue.push(lead.queue.as_deref());
        owner.push(lead.owner.as_deref());
        attributes.push(sqlx::types::Json(&lead.attributes));
        routed_at.push(lead.routed_at);
        policy.push(sla.policy.as_str());
        due_at.push(sla.due_at);
        at_risk_at.push(sla.at_risk_at);
        note.push(sla.routing_note.clone());
    }
    let mut conn = pool.acquire().await?;
    let inserted = sqlx::query_as(&INSERT_MANY_SQL)
        .bind(ids)
        .bind(source)
        .bind(external_id)
        .bind(lead_type)
        .bind(email)
        .bind(first_name)
        .bind(last_name)
        .bind(title)
        .bind(phone)
        .bind(company)
        .bind(score)
        .bind(campaign)
        .bind(channel)
        .bind(queue)
        .bind(owner)
        .bind(attributes)
        .bind(routed_at)
        .bind(now)
        .bind(who.actor)
        .bind(who.role)
        .bind(policy)
        .bind(due_at)
        .bind(at_risk_at)
        .bind(note)
        .fetch_all(&mut *conn)
        .await;
    // The connection's buffers grew to the size of this statement (megabytes with big
    // attributes) and would keep that size in the pool for good.
    conn.shrink_buffers();
    inserted
}

static INSERT_MANY_SQL: LazyLock<String> = LazyLock::new(|| {
    with_cycle_facts(
        "WITH input AS ( \
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::float8[], \
             $12::text[], $13::text[], $14::text[], $15::text[], $16::jsonb[], \
             $17::timestamptz[], $21::text[], $22::timestamptz[], $23::timestamptz[], \
             $24::jsonb[]) WITH ORDINALITY AS t(id, source, external_id, lead_type, email, \
             first_name, last_name, title, phone, company, score, campaign, channel, queue, \
             owner, attributes, routed_at, sla_policy, sla_due_at, sla_at_risk_at, note, ord)), \
         ins AS ( \
           INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, \
             title, phone, company, score, campaign, channel, queue, owner, attributes, state, \
             cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at) \
           SELECT id, source, external_id, lead_type, email, first_name, last_name, title, \
             phone, company, score, campaign, channel, queue, owner, attributes, 'routed', 1, \
             routed_at, $18, $18, sla_policy, sla_due_at, sla_at_risk_at \
           FROM input ORDER BY ord \
           ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, 1, 'routed', NULL, 'routed', $19, $20, owner, \
             {CYCLE_FACTS} || COALESCE(note, '{}'::jsonb), routed_at, $18 \
           FROM (SELECT ins.*, input.note FROM ins JOIN input ON input.id = ins.id) x) \
         SELECT id, source, external_id, cycle, state, owner FROM ins",
    )
});

/// Round robin from a cached member list: takes the queue's next turn from its sequence and
/// gives the lead to round robin's choice among `eligible` (reps in id order) by
/// `round_robin_pick`, the SQL form of `domain::routing::round_robin`, inserting it with its
/// `routed` entry, all in one statement that reads no queue or rep rows. `None`, having taken
/// no turn, when the lead exists already.
#[allow(clippy::too_many_arguments)]
pub async fn insert_new_round_robin_cached<'e>(
    db: impl sqlx::PgExecutor<'e>,
    lead: &NewLead,
    sla: &CycleSla,
    who: &Who<'_>,
    now: DateTime<Utc>,
    rr_seq: &str,
    eligible: &[&str],
) -> Result<Option<LeadRow>, sqlx::Error> {
    let query = sqlx::query_as(&INSERT_RR_CACHED_SQL)
        .bind(Uuid::now_v7())
        .bind(&lead.source)
        .bind(&lead.external_id);
    bind_cycle(query, lead, sla, who, now)
        .bind(rr_seq)
        .bind(eligible)
        .fetch_optional(db)
        .await
}

static INSERT_RR_CACHED_SQL: LazyLock<String> = LazyLock::new(|| {
    with_cycle_facts(
        "WITH t AS ( \
           SELECT nextval($25::regclass) AS turn \
           WHERE NOT EXISTS (SELECT 1 FROM leads WHERE source = $2 AND external_id = $3)), \
         ins AS ( \
           INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, \
             title, phone, company, score, campaign, channel, queue, owner, attributes, state, \
             cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             round_robin_pick($26::text[], t.turn), $16, 'routed', 1, \
             $17, $18, $18, $21, $22, $23 FROM t \
           ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, 1, 'routed', NULL, 'routed', $19, $20, owner, \
             {CYCLE_FACTS} || COALESCE($24, '{}'::jsonb), routed_at, $18 FROM ins) \
         SELECT * FROM ins",
    )
});

pub async fn get<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM leads WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn get_by_external<'e>(
    db: impl sqlx::PgExecutor<'e>,
    source: &str,
    external_id: &str,
) -> Result<Option<LeadRow>, sqlx::Error> {
    sqlx::query_as("SELECT * FROM leads WHERE source = $1 AND external_id = $2")
        .bind(source)
        .bind(external_id)
        .fetch_optional(db)
        .await
}

/// Starts a new cycle for a rejected or recycled lead: fresh data from the new MQL (absent
/// fields keep their old values, attributes are merged), decision fields cleared. Guarded by
/// the state and version that were read; `None` when someone changed the lead meanwhile.
pub async fn reroute<'e>(
    db: impl sqlx::PgExecutor<'e>,
    current: &LeadRow,
    lead: &NewLead,
    sla: &CycleSla,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    let query = sqlx::query_as(REROUTE_SQL.as_str())
        .bind(current.id)
        .bind(current.state)
        .bind(current.version);
    bind_cycle(query, lead, sla, who, now)
        .fetch_optional(db)
        .await
}

type LeadQuery<'q> = sqlx::query::QueryAs<'q, Postgres, LeadRow, sqlx::postgres::PgArguments>;

/// Binds `$4`…`$24`, the parameters that `insert_new` and `reroute` share: the lead's data,
/// the times, the actor and the cycle's deadlines.
fn bind_cycle<'q>(
    query: LeadQuery<'q>,
    lead: &'q NewLead,
    sla: &'q CycleSla,
    who: &Who<'q>,
    now: DateTime<Utc>,
) -> LeadQuery<'q> {
    query
        .bind(&lead.lead_type)
        .bind(&lead.email)
        .bind(&lead.first_name)
        .bind(&lead.last_name)
        .bind(&lead.title)
        .bind(&lead.phone)
        .bind(lead.company.as_ref().map(sqlx::types::Json))
        .bind(lead.score)
        .bind(&lead.campaign)
        .bind(&lead.channel)
        .bind(&lead.queue)
        .bind(&lead.owner)
        .bind(sqlx::types::Json(&lead.attributes))
        .bind(lead.routed_at)
        .bind(now)
        .bind(who.actor)
        .bind(who.role)
        .bind(&sla.policy)
        .bind(sla.due_at)
        .bind(sla.at_risk_at)
        .bind(sla.routing_note.as_ref())
}

/// A decision the domain allowed, with the free text that goes with it.
pub struct DecisionWrite<'a> {
    pub decided: &'a Decided,
    pub command: &'a Command,
    pub note: Option<&'a str>,
    pub next_action: Option<&'a str>,
    /// For an accept: when the first touch is due.
    pub first_touch_due_at: Option<DateTime<Utc>>,
}

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
    } = write;
    // An accept's entry records what reports need of it: whether it met the SLA and when the
    // first touch is due.
    let (set, data, code) = match command {
        Command::Accept => (
            "accepted_by = $4, accepted_at = $5, next_action = $8, \
             accepted_within_sla = ($5 <= sla_due_at), first_touch_due_at = $13",
            "jsonb_strip_nulls(jsonb_build_object('next_action', $8::text, \
             'accepted_within_sla', accepted_within_sla, 'first_touch_due_at', first_touch_due_at))",
            None,
        ),
        Command::Reject { code, .. } => (
            "rejected_by = $4, rejected_at = $5, rejection_code = $6",
            "$12",
            Some(code.as_str()),
        ),
        Command::Recycle { reason, .. } => (
            "recycled_by = $4, recycled_at = $5, recycle_reason = $6",
            "$12",
            Some(reason.as_str()),
        ),
    };
    let sql = format!(
        "WITH u AS ( \
           UPDATE leads SET state = $9, owner = $4, decision_note = $7, {set}, \
             version = version + 1, updated_at = $5 \
           WHERE id = $1 AND state = $2 AND version = $3 \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, code, note, data, occurred_at, recorded_at) \
           SELECT id, cycle, $9, $2, $9, $10, $11, $4, $6, $7, {data}, $5, $5 FROM u) \
         SELECT * FROM u"
    );
    let data = next_action.map(|n| serde_json::json!({ "next_action": n }));
    sqlx::query_as(&sql)
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
    sqlx::query_as(
        "WITH u AS ( \
           UPDATE leads SET first_touched_at = COALESCE(first_touched_at, $3), \
             version = version + 1, updated_at = $4 \
           WHERE id = $1 AND version = $2 RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, data, \
             occurred_at, recorded_at) \
           SELECT id, cycle, 'touched', $5, $6, $7, \
             jsonb_build_object('channel', $8::text, 'first', $9::boolean), $3, $4 FROM u) \
         SELECT * FROM u",
    )
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
