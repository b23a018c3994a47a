//! Many new leads (cycle 1) and their `routed` entries in one statement: the leads of a batch
//! (`POST /v1/leads/batch`), and a group of concurrent one-lead ingests committed together
//! (`service::group_commit`), with an owner or round robin from a cached member list. The rows
//! travel as one array per column; each row has its own actor and clock reading, so a group
//! of requests from different API keys writes what each would have written alone.

use chrono::{DateTime, Utc};
use sqlx::{
    postgres::PgArguments, query::QueryAs, Connection, FromRow, PgConnection, PgPool, Postgres,
};
use uuid::Uuid;

use super::{CycleSla, LeadRow, Who};
use crate::domain::{lead_input::NewLead, LeadState};

/// A new lead of a batch, with its cycle's deadlines and routing note.
pub struct BatchItem<'a> {
    pub lead: &'a NewLead,
    pub sla: &'a CycleSla,
}

/// A new lead of a group commit: its id (to match the returned row to its request), and the
/// actor and clock reading of its own request.
pub struct GroupRow<'a> {
    pub id: Uuid,
    pub lead: &'a NewLead,
    pub sla: &'a CycleSla,
    pub who: Who<'a>,
    pub now: DateTime<Utc>,
}

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

/// Inserts many new leads (cycle 1) and their `routed` entries in one statement. Leads whose
/// `(source, external_id)` exists already, or repeats an earlier item, are skipped; the result
/// has the inserted ones (any order): the caller takes the others through the one-lead path.
pub async fn insert_many(
    pool: &PgPool,
    items: &[BatchItem<'_>],
    who: &Who<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<InsertedLead>, sqlx::Error> {
    let mut columns = Columns::default();
    for BatchItem { lead, sla } in items {
        columns.push(Uuid::now_v7(), lead, sla, *who, now);
    }
    let mut conn = pool.acquire().await?;
    let inserted = columns
        .bind(sqlx::query_as(INSERT_MANY))
        .fetch_all(&mut *conn)
        .await;
    // The connection's buffers grew to the size of this statement (megabytes with big
    // attributes) and would keep that size in the pool for good.
    conn.shrink_buffers();
    inserted
}

/// A group's leads with their owners as given, in one statement (one commit): the whole rows
/// of the inserted ones, as `insert_new` returns them. Rows whose `(source, external_id)`
/// exists already are skipped (the caller's group has no repeats).
pub async fn insert_many_rows(
    conn: &mut PgConnection,
    rows: &[GroupRow<'_>],
) -> Result<Vec<LeadRow>, sqlx::Error> {
    Columns::of(rows)
        .bind(sqlx::query_as(INSERT_MANY_ROWS))
        .fetch_all(conn)
        .await
}

/// A group's leads for one round-robin queue, as `insert_new_round_robin_cached` does each:
/// every row whose lead does not exist yet takes the queue's next turn, in the group's order,
/// so N leads get N consecutive turns; rows of existing leads take none and are skipped.
pub async fn insert_many_round_robin(
    conn: &mut PgConnection,
    rows: &[GroupRow<'_>],
    rr_seq: &str,
    eligible: &[String],
) -> Result<Vec<LeadRow>, sqlx::Error> {
    Columns::of(rows)
        .bind(sqlx::query_as(INSERT_MANY_ROUND_ROBIN))
        .bind(rr_seq)
        .bind(eligible)
        .fetch_all(conn)
        .await
}

/// The rows as one array per column, bound as `$1`…`$29` of the statements below.
#[derive(Default)]
struct Columns<'a> {
    ids: Vec<Uuid>,
    source: Vec<&'a str>,
    external_id: Vec<&'a str>,
    lead_type: Vec<&'a str>,
    email: Vec<Option<&'a str>>,
    first_name: Vec<Option<&'a str>>,
    last_name: Vec<Option<&'a str>>,
    title: Vec<Option<&'a str>>,
    phone: Vec<Option<&'a str>>,
    company: Vec<Option<serde_json::Value>>,
    score: Vec<Option<f64>>,
    campaign: Vec<Option<&'a str>>,
    channel: Vec<Option<&'a str>>,
    queue: Vec<Option<&'a str>>,
    owner: Vec<Option<&'a str>>,
    attributes: Vec<sqlx::types::Json<&'a crate::domain::lead_size::Attributes>>,
    routed_at: Vec<DateTime<Utc>>,
    now: Vec<DateTime<Utc>>,
    actor: Vec<&'a str>,
    role: Vec<&'static str>,
    policy: Vec<&'a str>,
    due_at: Vec<DateTime<Utc>>,
    at_risk_at: Vec<DateTime<Utc>>,
    note: Vec<Option<&'a serde_json::Value>>,
    account_id: Vec<Option<Uuid>>,
    email_key: Vec<Option<&'a str>>,
    phone_key: Vec<Option<&'a str>>,
    person_key: Vec<Option<&'a str>>,
    duplicates: Vec<Option<sqlx::types::Json<&'a [crate::db::judge::Duplicate]>>>,
    features: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(rows: &'a [GroupRow<'a>]) -> Self {
        let mut columns = Columns::default();
        for r in rows {
            columns.push(r.id, r.lead, r.sla, r.who, r.now);
        }
        columns
    }

    fn push(
        &mut self,
        id: Uuid,
        lead: &'a NewLead,
        sla: &'a CycleSla,
        who: Who<'a>,
        now: DateTime<Utc>,
    ) {
        self.ids.push(id);
        self.source.push(&lead.source);
        self.external_id.push(&lead.external_id);
        self.lead_type.push(&lead.lead_type);
        self.email.push(lead.email.as_deref());
        self.first_name.push(lead.first_name.as_deref());
        self.last_name.push(lead.last_name.as_deref());
        self.title.push(lead.title.as_deref());
        self.phone.push(lead.phone.as_deref());
        self.company
            .push(lead.company.as_ref().map(|c| serde_json::json!(c)));
        self.score.push(lead.score);
        self.campaign.push(lead.campaign.as_deref());
        self.channel.push(lead.channel.as_deref());
        self.queue.push(lead.queue.as_deref());
        self.owner.push(lead.owner.as_deref());
        self.attributes.push(sqlx::types::Json(&lead.attributes));
        self.routed_at.push(lead.routed_at);
        self.now.push(now);
        self.actor.push(who.actor);
        self.role.push(who.role.as_str());
        self.policy.push(&sla.policy);
        self.due_at.push(sla.due_at);
        self.at_risk_at.push(sla.at_risk_at);
        self.note.push(sla.routing_note.as_ref());
        self.account_id
            .push(sla.found.account.as_ref().map(|a| a.id));
        self.email_key.push(sla.identity.email_key.as_deref());
        self.phone_key.push(sla.identity.phone_key.as_deref());
        self.person_key.push(sla.identity.person_key.as_deref());
        self.duplicates.push(super::cycle::duplicates(sla));
        self.features.push(&sla.features);
    }

    fn bind<O>(
        self,
        query: QueryAs<'a, Postgres, O, PgArguments>,
    ) -> QueryAs<'a, Postgres, O, PgArguments> {
        query
            .bind(self.ids)
            .bind(self.source)
            .bind(self.external_id)
            .bind(self.lead_type)
            .bind(self.email)
            .bind(self.first_name)
            .bind(self.last_name)
            .bind(self.title)
            .bind(self.phone)
            .bind(self.company)
            .bind(self.score)
            .bind(self.campaign)
            .bind(self.channel)
            .bind(self.queue)
            .bind(self.owner)
            .bind(self.attributes)
            .bind(self.routed_at)
            .bind(self.now)
            .bind(self.actor)
            .bind(self.role)
            .bind(self.policy)
            .bind(self.due_at)
            .bind(self.at_risk_at)
            .bind(self.note)
            .bind(self.account_id)
            .bind(self.email_key)
            .bind(self.phone_key)
            .bind(self.person_key)
            .bind(self.duplicates)
            .bind(self.features)
    }
}

/// The rows as a relation `input`, in the order given (`ord`).
macro_rules! input {
    () => {
        "WITH input AS ( \
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::float8[], \
             $12::text[], $13::text[], $14::text[], $15::text[], $16::jsonb[], \
             $17::timestamptz[], $18::timestamptz[], $19::text[], $20::text[], $21::text[], \
             $22::timestamptz[], $23::timestamptz[], $24::jsonb[], $25::uuid[], $26::text[], \
             $27::text[], $28::text[], $29::jsonb[], $30::text[]) WITH ORDINALITY AS t(id, \
             source, external_id, lead_type, email, first_name, last_name, title, phone, \
             company, score, campaign, channel, queue, owner, attributes, routed_at, at, actor, \
             actor_role, sla_policy, sla_due_at, sla_at_risk_at, note, account_id, email_key, \
             phone_key, person_key, possible_duplicates, features, ord)), "
    };
}

/// `INSERT INTO leads` of the rows of `input` joined with `$from`, with the owner `$owner`,
/// and the `routed` entries of the rows inserted. Rows go in key order (the first of a repeated
/// key first): two multi-row statements inserting some of the same keys (two groups, a group
/// and a batch) then wait for each other in one order only, never in a deadlock.
macro_rules! insert_rows {
    ($owner:literal, $from:literal) => {
        concat!(
            "ins AS ( \
               INSERT INTO leads (id, source, external_id, lead_type, email, first_name, \
                 last_name, title, phone, company, score, campaign, channel, queue, owner, \
                 attributes, state, cycle, routed_at, created_at, updated_at, sla_policy, \
                 sla_due_at, sla_at_risk_at, account_id, email_key, phone_key, person_key, \
                 possible_duplicates, features) \
               SELECT input.id, source, external_id, lead_type, email, first_name, last_name, \
                 title, phone, company, score, campaign, channel, queue, ",
            $owner,
            ", attributes, 'routed', 1, routed_at, at, at, sla_policy, sla_due_at, \
                 sla_at_risk_at, account_id, email_key, phone_key, person_key, \
                 possible_duplicates, features ",
            $from,
            " ORDER BY source, external_id, ord \
               ON CONFLICT ON CONSTRAINT lead_source_external_id_key DO NOTHING \
               RETURNING *), \
             h AS ( \
               INSERT INTO lead_history (lead_id, cycle, kind, from_state, to_state, actor, \
                 actor_role, rep_id, data, occurred_at, recorded_at) \
               SELECT id, 1, 'routed', NULL, 'routed', actor, actor_role, owner, ",
            cycle_facts!(),
            " || COALESCE(note, '{}'::jsonb), routed_at, at \
               FROM (SELECT ins.*, input.note, input.at, input.actor, input.actor_role \
                 FROM ins JOIN input ON input.id = ins.id) x) "
        )
    };
}

const INSERT_MANY: &str = concat!(
    input!(),
    insert_rows!("owner", "FROM input"),
    "SELECT id, source, external_id, cycle, state, owner FROM ins"
);

const INSERT_MANY_ROWS: &str = concat!(
    input!(),
    insert_rows!("owner", "FROM input"),
    "SELECT * FROM ins"
);

// `turns` numbers the rows of leads that do not exist yet in the group's order: the subquery's
// ORDER BY keeps it from being merged into the outer query, and the volatile `nextval` keeps
// the CTE from being inlined, so each such row takes one turn, in order. The named owners
// (`$15`) are not stored: round robin chooses.
const INSERT_MANY_ROUND_ROBIN: &str = concat!(
    input!(),
    "turns AS ( \
       SELECT n.id, nextval($31::regclass) AS turn FROM ( \
         SELECT i.id FROM input i \
         WHERE NOT EXISTS (SELECT 1 FROM leads l \
           WHERE l.source = i.source AND l.external_id = i.external_id) \
         ORDER BY i.ord) n), ",
    insert_rows!(
        "round_robin_pick($32::text[], turns.turn)",
        "FROM input JOIN turns ON turns.id = input.id"
    ),
    "SELECT * FROM ins"
);

statements!(INSERT_MANY, INSERT_MANY_ROWS, INSERT_MANY_ROUND_ROBIN);
