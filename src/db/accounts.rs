//! The accounts API's queries (docs/api.md, "Accounts"): the list, one account with its leads,
//! the owner RevOps sets, account-level acceptance, merges, and the append-only
//! `account_events` every change writes in its own transaction.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// At most this many of an account's leads are listed with it (the newest); the counts by
/// state cover them all.
pub const LEADS_SHOWN: i64 = 500;
/// At most this many of an account's events are shown with it (the newest).
pub const EVENTS_SHOWN: i64 = 50;

/// An account as stored.
#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub domain: Option<String>,
    pub owner: Option<String>,
    pub accepted_until: Option<DateTime<Utc>>,
    pub accepted_by: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub merged_into: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How many leads the account has.
    pub lead_count: i64,
}

/// What the list keeps.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// A prefix of the name (any case) or of the domain.
    pub q: Option<String>,
    pub owner: Option<String>,
    /// Accepted now (`true`) or not (`false`).
    pub accepted: Option<bool>,
    /// Only accounts after this id (the cursor).
    pub after: Option<Uuid>,
}

/// One lead of an account.
#[derive(Debug, Clone, FromRow)]
pub struct AccountLead {
    pub id: Uuid,
    pub state: String,
    pub owner: Option<String>,
    pub cycle: i32,
    pub routed_at: DateTime<Utc>,
}

/// One entry of `account_events`.
#[derive(Debug, Clone, FromRow)]
pub struct AccountEvent {
    pub kind: String,
    pub actor: String,
    pub data: Value,
    pub occurred_at: DateTime<Utc>,
}

macro_rules! account_select {
    () => {
        "SELECT a.id, a.name, a.domain, a.owner, a.accepted_until, a.accepted_by, \
           a.accepted_at, a.merged_into, a.created_at, a.updated_at, \
           (SELECT count(*) FROM leads l WHERE l.account_id = a.id) AS lead_count "
    };
}

// `$1` is a LIKE pattern (escaped by the caller, `%` appended).
const LIST: &str = concat!(
    account_select!(),
    "FROM accounts a WHERE a.merged_into IS NULL \
       AND ($1::text IS NULL OR lower(a.name) LIKE $1 OR a.domain LIKE $1) \
       AND ($2::text IS NULL OR a.owner = $2) \
       AND ($3::boolean IS NULL OR (a.accepted_until IS NOT NULL AND a.accepted_until > $4) = $3) \
       AND ($5::uuid IS NULL OR a.id > $5) \
     ORDER BY a.id LIMIT $6"
);
// The account `$1` names, or the one it was merged into (chains are flattened by merges).
const RESOLVE: &str = concat!(
    account_select!(),
    "FROM accounts m JOIN accounts a ON a.id = COALESCE(m.merged_into, m.id) WHERE m.id = $1"
);
const LEADS_OF: &str = "SELECT id, state, owner, cycle, routed_at FROM leads \
     WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
const STATE_COUNTS: &str =
    "SELECT state, count(*) FROM leads WHERE account_id = $1 GROUP BY state ORDER BY state";
const EVENTS_OF: &str = "SELECT kind, actor, data, occurred_at FROM account_events \
     WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
const NAMES: &str = "SELECT id, name FROM accounts WHERE id = ANY($1)";
const REP_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM reps WHERE id = $1)";
// Both rows of a merge, locked in id order (two crossing merges cannot deadlock).
const LOCK: &str = concat!(
    account_select!(),
    "FROM accounts a WHERE a.id = ANY($1) ORDER BY a.id FOR UPDATE OF a"
);
const SET_OWNER: &str = "UPDATE accounts SET owner = $2, updated_at = $3 WHERE id = $1";
const ACCEPT: &str = "UPDATE accounts SET owner = $2, accepted_until = $3, accepted_by = $4, \
       accepted_at = $5, updated_at = $5 WHERE id = $1";
const END_ACCEPTANCE: &str = "UPDATE accounts SET accepted_until = NULL, accepted_by = NULL, \
       accepted_at = NULL, updated_at = $2 WHERE id = $1";
const MOVE_LEADS: &str = "UPDATE leads SET account_id = $2 WHERE account_id = $1";
// The reports count a cycle under its lead's account: move the cycles too, and mark their hours
// so the compacted blocks are rebuilt.
const MOVE_CYCLES: &str = "WITH moved AS ( \
       UPDATE lead_cycles SET account_id = $2 WHERE account_id = $1 RETURNING routed_at) \
     INSERT INTO cycle_hour_marks (hour) \
     SELECT DISTINCT date_trunc('hour', routed_at, 'UTC') FROM moved";
const FLATTEN: &str =
    "UPDATE accounts SET merged_into = $2, updated_at = $3 WHERE merged_into = $1";
const MARK_MERGED: &str = "UPDATE accounts SET merged_into = $2, owner = NULL, \
       accepted_until = NULL, accepted_by = NULL, accepted_at = NULL, updated_at = $3 \
     WHERE id = $1";
// The survivor keeps its owner and acceptance; takes the merged account's when it has none.
const ABSORB: &str = "UPDATE accounts s SET owner = COALESCE(s.owner, $2), \
       accepted_until = CASE WHEN s.accepted_until IS NULL THEN $3 ELSE s.accepted_until END, \
       accepted_by = CASE WHEN s.accepted_until IS NULL THEN $4 ELSE s.accepted_by END, \
       accepted_at = CASE WHEN s.accepted_until IS NULL THEN $5 ELSE s.accepted_at END, \
       updated_at = $6 \
     WHERE s.id = $1";
const RECORD: &str = "INSERT INTO account_events (account_id, kind, actor, data, occurred_at) \
     VALUES ($1, $2, $3, $4, $5)";

/// Up to `limit` unmerged accounts of `filter`, in id order.
pub async fn list(
    pool: &PgPool,
    filter: &AccountFilter,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    let pattern = filter.q.as_deref().map(|q| format!("{}%", like_escaped(q)));
    sqlx::query_as(LIST)
        .bind(pattern)
        .bind(&filter.owner)
        .bind(filter.accepted)
        .bind(now)
        .bind(filter.after)
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// `q` folded to lower case with LIKE's wildcards and escape taken literally.
fn like_escaped(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for ch in q.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Account `id`, or the account it was merged into.
pub async fn resolve(pool: &PgPool, id: Uuid) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(RESOLVE).bind(id).fetch_optional(pool).await
}

/// The newest [`LEADS_SHOWN`] leads of account `id`, its lead counts by state, and its newest
/// [`EVENTS_SHOWN`] events.
pub async fn contents(
    pool: &PgPool,
    id: Uuid,
) -> Result<(Vec<AccountLead>, Vec<(String, i64)>, Vec<AccountEvent>), sqlx::Error> {
    let leads = sqlx::query_as(LEADS_OF)
        .bind(id)
        .bind(LEADS_SHOWN)
        .fetch_all(pool)
        .await?;
    let counts = sqlx::query_as(STATE_COUNTS)
        .bind(id)
        .fetch_all(pool)
        .await?;
    let events = sqlx::query_as(EVENTS_OF)
        .bind(id)
        .bind(EVENTS_SHOWN)
        .fetch_all(pool)
        .await?;
    Ok((leads, counts, events))
}

/// The names of the accounts of `ids` (the report rows grouped by account).
pub async fn names(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(NAMES).bind(ids).fetch_all(pool).await
}

/// Whether `rep` is a rep salgate knows.
pub async fn rep_exists(pool: &PgPool, rep: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(REP_EXISTS)
        .bind(rep)
        .fetch_one(pool)
        .await
}

/// Locks the accounts of `ids` (in id order) and returns them.
pub async fn lock(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<AccountRow>, sqlx::Error> {
    sqlx::query_as(LOCK).bind(ids).fetch_all(conn).await
}

/// Sets (or clears) the owner of account `id`.
pub async fn set_owner(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(SET_OWNER)
        .bind(id)
        .bind(owner)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Account `id` is accepted by `by` until `until`, its leads going to `owner`.
pub async fn accept(
    conn: &mut PgConnection,
    id: Uuid,
    owner: &str,
    until: DateTime<Utc>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(ACCEPT)
        .bind(id)
        .bind(owner)
        .bind(until)
        .bind(by)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Ends account `id`'s acceptance (its owner stays).
pub async fn end_acceptance(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(END_ACCEPTANCE)
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Merges `from` into `into` (both locked by the caller, neither merged): moves its leads and
/// their cycles, repoints the accounts merged into it, and gives the survivor its owner and
/// acceptance where the survivor has none. Returns how many leads moved.
pub async fn merge(
    conn: &mut PgConnection,
    from: &AccountRow,
    into: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let moved = sqlx::query(MOVE_LEADS)
        .bind(from.id)
        .bind(into)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query(MOVE_CYCLES)
        .bind(from.id)
        .bind(into)
        .execute(&mut *conn)
        .await?;
    sqlx::query(FLATTEN)
        .bind(from.id)
        .bind(into)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(MARK_MERGED)
        .bind(from.id)
        .bind(into)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(ABSORB)
        .bind(into)
        .bind(&from.owner)
        .bind(from.accepted_until)
        .bind(&from.accepted_by)
        .bind(from.accepted_at)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(moved)
}

/// Appends an event of account `id`.
pub async fn record(
    conn: &mut PgConnection,
    id: Uuid,
    kind: &str,
    actor: &str,
    data: Value,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(RECORD)
        .bind(id)
        .bind(kind)
        .bind(actor)
        .bind(data)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}

statements!(
    LIST,
    RESOLVE,
    LEADS_OF,
    STATE_COUNTS,
    EVENTS_OF,
    NAMES,
    REP_EXISTS,
    LOCK,
    SET_OWNER,
    ACCEPT,
    END_ACCEPTANCE,
    MOVE_LEADS,
    MOVE_CYCLES,
    FLATTEN,
    MARK_MERGED,
    ABSORB,
    RECORD
);
