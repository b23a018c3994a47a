//! Ingest rules: the rules themselves (each write appends the rule as written to
//! `ingest_rule_history` in the same statement), what dry-run rules would have done, and the
//! backtest's stream of past cycles.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{types::Json, FromRow, PgExecutor};
use uuid::Uuid;

/// A stored rule (its condition and action as the parser normalised them).
#[derive(Debug, Clone, FromRow)]
pub struct RuleRow {
    pub id: Uuid,
    pub name: String,
    pub position: i32,
    pub mode: String,
    pub condition: Json<Value>,
    pub action: Json<Value>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a write stores.
pub struct RuleWrite<'a> {
    pub name: &'a str,
    pub position: i32,
    pub mode: &'a str,
    pub condition: Value,
    pub action: Value,
}

macro_rules! columns {
    () => {
        "id, name, position, mode, condition, action, version, created_at, updated_at"
    };
}

/// The history row of the rule `r` (a CTE's output) and the change.
macro_rules! history {
    ($change:literal) => {
        concat!(
            ", h AS (INSERT INTO ingest_rule_history (rule_id, version, change, body, actor, at) \
             SELECT id, version, '",
            $change,
            "', jsonb_build_object('name', name, 'position', position, 'mode', mode, \
             'condition', condition, 'action', action), $8, updated_at FROM r) SELECT ",
            columns!(),
            " FROM r"
        )
    };
}

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM ingest_rules ORDER BY position, created_at, id"
);

/// Every rule, in evaluation order.
pub async fn list(db: impl PgExecutor<'_>) -> Result<Vec<RuleRow>, sqlx::Error> {
    sqlx::query_as(LIST).fetch_all(db).await
}

const GET: &str = concat!("SELECT ", columns!(), " FROM ingest_rules WHERE id = $1");

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(GET).bind(id).fetch_optional(db).await
}

const CREATE: &str = concat!(
    "WITH r AS (INSERT INTO ingest_rules (id, name, position, mode, condition, action, \
     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING *)",
    history!("created")
);

pub async fn create(
    db: impl PgExecutor<'_>,
    id: Uuid,
    w: &RuleWrite<'_>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<RuleRow, sqlx::Error> {
    sqlx::query_as(CREATE)
        .bind(id)
        .bind(w.name)
        .bind(w.position)
        .bind(w.mode)
        .bind(Json(&w.condition))
        .bind(Json(&w.action))
        .bind(now)
        .bind(actor)
        .fetch_one(db)
        .await
}

const REPLACE: &str = concat!(
    "WITH r AS (UPDATE ingest_rules SET name = $2, position = $3, mode = $4, condition = $5, \
     action = $6, updated_at = $7, version = version + 1 \
     WHERE id = $1 AND ($9::integer IS NULL OR version = $9) RETURNING *)",
    history!("updated")
);

/// Replaces rule `id`; `expected`: the version an `If-Match` names. `None` when there is no
/// such rule, or it is at another version.
pub async fn replace(
    db: impl PgExecutor<'_>,
    id: Uuid,
    w: &RuleWrite<'_>,
    expected: Option<i32>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Option<RuleRow>, sqlx::Error> {
    sqlx::query_as(REPLACE)
        .bind(id)
        .bind(w.name)
        .bind(w.position)
        .bind(w.mode)
        .bind(Json(&w.condition))
        .bind(Json(&w.action))
        .bind(now)
        .bind(actor)
        .bind(expected)
        .fetch_optional(db)
        .await
}

const DELETE: &str =
    "WITH r AS (DELETE FROM ingest_rules WHERE id = $1 AND ($2::integer IS NULL OR version = $2) \
     RETURNING id, name, position, mode, condition, action, version, created_at, \
     $3::timestamptz AS updated_at), \
     h AS (INSERT INTO ingest_rule_history (rule_id, version, change, body, actor, at) \
     SELECT id, version, 'deleted', jsonb_build_object('name', name, 'position', position, \
     'mode', mode, 'condition', condition, 'action', action), $4, updated_at FROM r) \
     SELECT id FROM r";

/// Deletes rule `id` (at version `expected`, when given); whether it did.
pub async fn delete(
    db: impl PgExecutor<'_>,
    id: Uuid,
    expected: Option<i32>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let gone: Option<Uuid> = sqlx::query_scalar(DELETE)
        .bind(id)
        .bind(expected)
        .bind(now)
        .bind(actor)
        .fetch_optional(db)
        .await?;
    Ok(gone.is_some())
}

const RECORD_DRY_RUNS: &str = "INSERT INTO rule_dry_runs (rule_id, lead_id, cycle, action, at) \
     SELECT r, $2, $3, a, $5 FROM unnest($1::uuid[], $4::jsonb[]) AS t (r, a) \
     ON CONFLICT DO NOTHING";

/// Records that each of `rules` (with its action) matched cycle `cycle` of `lead`.
pub async fn record_dry_runs(
    db: impl PgExecutor<'_>,
    rules: &[(Uuid, Value)],
    lead: Uuid,
    cycle: i32,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let ids: Vec<Uuid> = rules.iter().map(|(id, _)| *id).collect();
    let actions: Vec<Json<&Value>> = rules.iter().map(|(_, a)| Json(a)).collect();
    sqlx::query(RECORD_DRY_RUNS)
        .bind(&ids)
        .bind(lead)
        .bind(cycle)
        .bind(&actions)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// One dry-run match.
#[derive(Debug, Clone, FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct DryRunMatch {
    pub lead_id: Uuid,
    pub cycle: i32,
    /// What the rule would have done (its action then).
    #[schema(value_type = crate::domain::rules::ActionBody)]
    pub action: Json<Value>,
    pub at: DateTime<Utc>,
}

const DRY_RUN_COUNT: &str = "SELECT count(*) FROM rule_dry_runs WHERE rule_id = $1";
const DRY_RUN_RECENT: &str = "SELECT lead_id, cycle, action, at FROM rule_dry_runs \
     WHERE rule_id = $1 ORDER BY at DESC, lead_id DESC LIMIT $2";

/// How many cycles rule `id` matched in dry run, and the latest `limit` of them.
pub async fn dry_runs(
    db: &sqlx::PgPool,
    id: Uuid,
    limit: i64,
) -> Result<(i64, Vec<DryRunMatch>), sqlx::Error> {
    let count = sqlx::query_scalar(DRY_RUN_COUNT)
        .bind(id)
        .fetch_one(db)
        .await?;
    let recent = sqlx::query_as(DRY_RUN_RECENT)
        .bind(id)
        .bind(limit)
        .fetch_all(db)
        .await?;
    Ok((count, recent))
}

statements!(
    LIST,
    GET,
    CREATE,
    REPLACE,
    DELETE,
    RECORD_DRY_RUNS,
    DRY_RUN_COUNT,
    DRY_RUN_RECENT
);
