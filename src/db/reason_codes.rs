//! Rejection codes and recycle reasons: one table, two kinds.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    Rejection,
    Recycle,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Rejection => "rejection",
            ReasonKind::Recycle => "recycle",
        }
    }
}

/// A coded reason RevOps maintains. Retired (inactive) codes stay valid in history.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ReasonCode {
    pub code: String,
    pub label: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "code, label, active, created_at, updated_at"
    };
}

const LIST: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM reason_codes WHERE kind = $1 ORDER BY code"
);

pub async fn list(pool: &PgPool, kind: ReasonKind) -> Result<Vec<ReasonCode>, sqlx::Error> {
    sqlx::query_as(LIST)
        .bind(kind.as_str())
        .fetch_all(pool)
        .await
}

const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM reason_codes WHERE kind = $1 AND code = $2"
);

pub async fn get(
    pool: &PgPool,
    kind: ReasonKind,
    code: &str,
) -> Result<Option<ReasonCode>, sqlx::Error> {
    sqlx::query_as(GET)
        .bind(kind.as_str())
        .bind(code)
        .fetch_optional(pool)
        .await
}

const CREATE: &str = concat!(
    "INSERT INTO reason_codes (kind, code, label, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT ON CONSTRAINT reason_codes_pkey DO NOTHING \
         RETURNING ",
    columns!()
);

/// Inserts a code; `None` when it already exists.
pub async fn create(
    pool: &PgPool,
    kind: ReasonKind,
    code: &str,
    label: &str,
    active: bool,
    now: DateTime<Utc>,
) -> Result<Option<ReasonCode>, sqlx::Error> {
    sqlx::query_as(CREATE)
        .bind(kind.as_str())
        .bind(code)
        .bind(label)
        .bind(active)
        .bind(now)
        .fetch_optional(pool)
        .await
}

const UPDATE: &str = concat!(
    "UPDATE reason_codes SET label = COALESCE($3, label), active = COALESCE($4, active), \
         updated_at = $5 WHERE kind = $1 AND code = $2 RETURNING ",
    columns!()
);

pub async fn update(
    pool: &PgPool,
    kind: ReasonKind,
    code: &str,
    label: Option<&str>,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> Result<Option<ReasonCode>, sqlx::Error> {
    sqlx::query_as(UPDATE)
        .bind(kind.as_str())
        .bind(code)
        .bind(label)
        .bind(active)
        .bind(now)
        .fetch_optional(pool)
        .await
}

const IS_ACTIVE: &str = "SELECT active FROM reason_codes WHERE kind = $1 AND code = $2";

/// Whether `code` exists and is active (only active codes may be used for new decisions).
pub async fn is_active(pool: &PgPool, kind: ReasonKind, code: &str) -> Result<bool, sqlx::Error> {
    let active: Option<bool> = sqlx::query_scalar(IS_ACTIVE)
        .bind(kind.as_str())
        .bind(code)
        .fetch_optional(pool)
        .await?;
    Ok(active == Some(true))
}

statements!(LIST, GET, CREATE, UPDATE, IS_ACTIVE);
