//! Statements that start a cycle: a new lead (alone, or round robin from a cached member list)
//! and a re-route. Each also appends the cycle's `routed` history entry. Many new leads in one
//! statement: `many.rs`.

use chrono::{DateTime, Utc};
use sqlx::Postgres;
use uuid::Uuid;

use super::{CycleSla, LeadRow, Who};
use crate::domain::lead_input::NewLead;

/// The facts of a cycle its `routed` history entry records, so reports can be rebuilt from the
/// log alone (`lead_cycles_apply` in the migrations reads them). Evaluated over the row just
/// written.
macro_rules! cycle_facts {
    () => {
        "jsonb_strip_nulls(jsonb_build_object('source', source, \
         'lead_type', lead_type, 'campaign', campaign, 'channel', channel, 'queue', queue, \
         'sla_due_at', sla_due_at, 'account_id', account_id, 'features', features))"
    };
}

const INSERT_NEW: &str = concat!(
    "WITH ins AS ( \
           INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, \
             title, phone, company, score, campaign, channel, queue, owner, attributes, state, \
             cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at, \
             account_id, email_key, phone_key, person_key, possible_duplicates, features) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             'routed', 1, $17, $18, $18, $21, $22, $23, $25, $26, $27, $28, $29, $30) \
           ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, 1, 'routed', NULL, 'routed', $19, $20, owner, \
             ",
    cycle_facts!(),
    " || COALESCE($24, '{}'::jsonb), routed_at, $18 FROM ins) \
         SELECT * FROM ins"
);

const REROUTE: &str = concat!(
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
             account_id = $25, email_key = $26, phone_key = $27, person_key = $28, \
             possible_duplicates = $29, features = $30, \
             version = version + 1, updated_at = $18 \
           WHERE id = $1 AND state = $2 AND version = $3 \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, cycle, 'routed', $2, 'routed', $19, $20, owner, \
             ",
    cycle_facts!(),
    " || COALESCE($24, '{}'::jsonb), routed_at, $18 FROM u) \
         SELECT * FROM u"
);

/// Inserts a new lead in cycle 1 with its `routed` history row. `None` when a lead with the
/// same `(source, external_id)` already exists (nothing is written then).
pub async fn insert_new<'e>(
    db: impl sqlx::PgExecutor<'e>,
    lead: &NewLead,
    sla: &CycleSla,
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> Result<Option<LeadRow>, sqlx::Error> {
    let query = sqlx::query_as(INSERT_NEW)
        .bind(Uuid::now_v7())
        .bind(&lead.source)
        .bind(&lead.external_id);
    bind_cycle(query, lead, sla, who, now)
        .fetch_optional(db)
        .await
}

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
    let query = sqlx::query_as(INSERT_ROUND_ROBIN_CACHED)
        .bind(Uuid::now_v7())
        .bind(&lead.source)
        .bind(&lead.external_id);
    bind_cycle(query, lead, sla, who, now)
        .bind(rr_seq)
        .bind(eligible)
        .fetch_optional(db)
        .await
}

const INSERT_ROUND_ROBIN_CACHED: &str = concat!(
    // `$15`, the owner `bind_cycle` binds, is not stored (round robin chooses); `t` names its
    // type so that the statement prepares on its own.
    "WITH t AS ( \
           SELECT nextval($31::regclass) AS turn, $15::text AS named_owner \
           WHERE NOT EXISTS (SELECT 1 FROM leads WHERE source = $2 AND external_id = $3)), \
         ins AS ( \
           INSERT INTO leads (id, source, external_id, lead_type, email, first_name, last_name, \
             title, phone, company, score, campaign, channel, queue, owner, attributes, state, \
             cycle, routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at, \
             account_id, email_key, phone_key, person_key, possible_duplicates, features) \
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             round_robin_pick($32::text[], t.turn), $16, 'routed', 1, \
             $17, $18, $18, $21, $22, $23, $25, $26, $27, $28, $29, $30 FROM t \
           ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING \
           RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
             actor_role, rep_id, data, occurred_at, recorded_at) \
           SELECT id, 1, 'routed', NULL, 'routed', $19, $20, owner, \
             ",
    cycle_facts!(),
    " || COALESCE($24, '{}'::jsonb), routed_at, $18 FROM ins) \
         SELECT * FROM ins"
);

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
    let query = sqlx::query_as(REROUTE)
        .bind(current.id)
        .bind(current.state)
        .bind(current.version);
    bind_cycle(query, lead, sla, who, now)
        .fetch_optional(db)
        .await
}

type LeadQuery<'q> = sqlx::query::QueryAs<'q, Postgres, LeadRow, sqlx::postgres::PgArguments>;

/// Binds `$4`…`$30`, the parameters that `insert_new` and `reroute` share: the lead's data,
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
        .bind(sla.found.account.as_ref().map(|a| a.id))
        .bind(&sla.identity.email_key)
        .bind(&sla.identity.phone_key)
        .bind(&sla.identity.person_key)
        .bind(duplicates(sla))
        .bind(&sla.features)
}

/// The `possible_duplicates` column: `NULL` when there are none.
pub(super) fn duplicates(
    sla: &CycleSla,
) -> Option<sqlx::types::Json<&[super::super::judge::Duplicate]>> {
    (!sla.found.duplicates.is_empty()).then_some(sqlx::types::Json(sla.found.duplicates.as_slice()))
}

statements!(INSERT_NEW, INSERT_ROUND_ROBIN_CACHED, REROUTE);
