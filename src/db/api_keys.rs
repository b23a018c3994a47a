//! API keys. Only a SHA-256 of each token is stored; the token is shown once at creation.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::Role;

/// A stored key, without its token.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct ApiKey {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    /// The rep an `sdr` key acts as.
    #[serde(rename = "rep")]
    pub rep_id: Option<String>,
    /// First characters of the token, to tell keys apart.
    pub token_prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new token: `sg_` and 256 random bits.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("sg_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Length of a token: `sg_` and 32 bytes in unpadded URL-safe base64.
const TOKEN_LEN: usize = 3 + 43;

/// Whether `token` has the shape [`generate_token`] gives, so that other strings are refused
/// without a query.
pub fn is_well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token.starts_with("sg_")
        && token[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The channel every replica listens on; a revocation notifies it in its transaction.
pub const REVOKED_CHANNEL: &str = "salgate_keys";

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

macro_rules! columns {
    () => {
        "id, name, role, rep_id, token_prefix, created_at, revoked_at"
    };
}

const CREATE: &str = concat!(
    "INSERT INTO api_keys (id, name, role, rep_id, token_hash, token_prefix, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
    columns!()
);

/// Creates a key and returns it with its token (the only time the token exists in clear).
pub async fn create(
    pool: &PgPool,
    role: Role,
    rep: Option<&str>,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(ApiKey, String), sqlx::Error> {
    let token = generate_token();
    let key = sqlx::query_as(CREATE)
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(role)
        .bind(rep)
        .bind(hash_token(&token))
        .bind(&token[..10])
        .bind(now)
        .fetch_one(pool)
        .await?;
    Ok((key, token))
}

const FIND_ACTIVE_BY_TOKEN: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM api_keys WHERE token_hash = $1 AND revoked_at IS NULL"
);

/// The active key with this token, if any.
pub async fn find_active_by_token(
    pool: &PgPool,
    token: &str,
) -> Result<Option<ApiKey>, sqlx::Error> {
    sqlx::query_as(FIND_ACTIVE_BY_TOKEN)
        .bind(hash_token(token))
        .fetch_optional(pool)
        .await
}

const LIST: &str = concat!("SELECT ", columns!(), " FROM api_keys ORDER BY id");

pub async fn list(pool: &PgPool) -> Result<Vec<ApiKey>, sqlx::Error> {
    sqlx::query_as(LIST).fetch_all(pool).await
}

const GET: &str = concat!("SELECT ", columns!(), " FROM api_keys WHERE id = $1");

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<ApiKey>, sqlx::Error> {
    sqlx::query_as(GET).bind(id).fetch_optional(pool).await
}

const NOTIFY_REVOKED: &str = "SELECT pg_notify($1, $2)";

const REVOKE: &str = concat!(
    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING ",
    columns!()
);

/// Revokes a key; `None` when there is no such key. Revoking twice keeps the first time.
/// Every replica is told on [`REVOKED_CHANNEL`] when the transaction commits.
pub async fn revoke(
    pool: &PgPool,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<ApiKey>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let key: Option<ApiKey> = sqlx::query_as(REVOKE)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    if key.is_some() {
        sqlx::query(NOTIFY_REVOKED)
            .bind(REVOKED_CHANNEL)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(key)
}

const BOOTSTRAP_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtext('salgate.bootstrap_admin'))";
const ANY_KEY_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM api_keys)";
const INSERT_BOOTSTRAP_ADMIN: &str =
    "INSERT INTO api_keys (id, name, role, rep_id, token_hash, token_prefix, created_at) \
         VALUES ($1, 'bootstrap admin', 'admin', NULL, $2, $3, $4)";

/// On first start, creates an admin key if no key exists at all. Safe when several replicas
/// start at once: a transaction-scoped advisory lock makes the check-and-insert exclusive.
pub async fn bootstrap_admin(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(BOOTSTRAP_LOCK).execute(&mut *tx).await?;
    let exists: bool = sqlx::query_scalar(ANY_KEY_EXISTS)
        .fetch_one(&mut *tx)
        .await?;
    if exists {
        return Ok(None);
    }
    let token = generate_token();
    sqlx::query(INSERT_BOOTSTRAP_ADMIN)
        .bind(Uuid::now_v7())
        .bind(hash_token(&token))
        .bind(&token[..10])
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(token))
}

statements!(
    CREATE,
    FIND_ACTIVE_BY_TOKEN,
    LIST,
    GET,
    REVOKE,
    NOTIFY_REVOKED,
    BOOTSTRAP_LOCK,
    ANY_KEY_EXISTS,
    INSERT_BOOTSTRAP_ADMIN
);
