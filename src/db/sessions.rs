//! Sign-in links and sessions of the pages (`src/pages`). Only SHA-256 hashes of their tokens
//! are stored; a token exists in clear once, in the link or cookie it is handed out in.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::api_keys::hash_token;
use crate::domain::Role;

/// A new token: `prefix` and 256 random bits in unpadded URL-safe base64.
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `token` has the shape [`generate_token`] gives with `prefix`, so that other strings
/// are refused without a query.
pub fn is_well_formed(token: &str, prefix: &str) -> bool {
    token.len() == prefix.len() + 43
        && token.starts_with(prefix)
        && token[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub const LINK_PREFIX: &str = "sl_";
pub const SESSION_PREFIX: &str = "ss_";

/// A sign-in link, without its token.
#[derive(Debug, Clone, FromRow)]
pub struct SignInLink {
    pub id: Uuid,
    pub role: Role,
    pub rep_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A live session.
#[derive(Debug, Clone, FromRow)]
pub struct Session {
    pub id: Uuid,
    pub csrf_token: String,
    pub role: Role,
    pub rep_id: Option<String>,
    pub api_key_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

const CREATE_LINK: &str = "INSERT INTO sign_in_links \
     (id, token_hash, role, rep_id, created_by, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     RETURNING id, role, rep_id, created_by, created_at, expires_at, used_at";

/// Stores a new link and returns it with its token.
pub async fn create_link(
    pool: &PgPool,
    role: Role,
    rep: Option<&str>,
    created_by: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(SignInLink, String), sqlx::Error> {
    let token = generate_token(LINK_PREFIX);
    let link = sqlx::query_as(CREATE_LINK)
        .bind(Uuid::now_v7())
        .bind(hash_token(&token))
        .bind(role)
        .bind(rep)
        .bind(created_by)
        .bind(now)
        .bind(expires_at)
        .fetch_one(pool)
        .await?;
    Ok((link, token))
}

const USE_LINK: &str = "UPDATE sign_in_links SET used_at = $2 \
     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
     RETURNING id, role, rep_id, created_by, created_at, expires_at, used_at";

const CREATE_SESSION: &str = "INSERT INTO sessions \
     (id, token_hash, csrf_token, role, rep_id, api_key_id, sign_in_link_id, created_at, expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     RETURNING id, csrf_token, role, rep_id, api_key_id, expires_at";

/// Who a new session is for, and how it was opened.
pub struct NewSession<'a> {
    pub role: Role,
    pub rep: Option<&'a str>,
    pub api_key_id: Option<Uuid>,
    pub sign_in_link_id: Option<Uuid>,
}

async fn insert_session<'e>(
    exec: impl sqlx::PgExecutor<'e>,
    new: &NewSession<'_>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(Session, String), sqlx::Error> {
    let token = generate_token(SESSION_PREFIX);
    let session = sqlx::query_as(CREATE_SESSION)
        .bind(Uuid::now_v7())
        .bind(hash_token(&token))
        .bind(generate_token(""))
        .bind(new.role)
        .bind(new.rep)
        .bind(new.api_key_id)
        .bind(new.sign_in_link_id)
        .bind(now)
        .bind(expires_at)
        .fetch_one(exec)
        .await?;
    Ok((session, token))
}

/// Opens a session for an API key's holder.
pub async fn create_session(
    pool: &PgPool,
    new: &NewSession<'_>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(Session, String), sqlx::Error> {
    insert_session(pool, new, now, expires_at).await
}

/// Uses a link: marks it used and opens its session in one transaction, so a link opens
/// exactly one session however many sign-ins race for it. `None`: unknown, used or expired.
pub async fn use_link(
    pool: &PgPool,
    token: &str,
    now: DateTime<Utc>,
    session_expires_at: DateTime<Utc>,
) -> Result<Option<(Session, String)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let link: Option<SignInLink> = sqlx::query_as(USE_LINK)
        .bind(hash_token(token))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(link) = link else {
        return Ok(None);
    };
    let new = NewSession {
        role: link.role,
        rep: link.rep_id.as_deref(),
        api_key_id: None,
        sign_in_link_id: Some(link.id),
    };
    let opened = insert_session(&mut *tx, &new, now, session_expires_at).await?;
    tx.commit().await?;
    Ok(Some(opened))
}

const FIND_LINK: &str = "SELECT id, role, rep_id, created_by, created_at, expires_at, used_at \
     FROM sign_in_links WHERE token_hash = $1";

/// The link with this token, used or not (the page that asks to confirm a sign-in).
pub async fn find_link(pool: &PgPool, token: &str) -> Result<Option<SignInLink>, sqlx::Error> {
    sqlx::query_as(FIND_LINK)
        .bind(hash_token(token))
        .fetch_optional(pool)
        .await
}

const LIST_LINKS: &str = "SELECT id, role, rep_id, created_by, created_at, expires_at, used_at \
     FROM sign_in_links ORDER BY id DESC LIMIT $1";

/// The newest links, newest first.
pub async fn list_links(pool: &PgPool, limit: i64) -> Result<Vec<SignInLink>, sqlx::Error> {
    sqlx::query_as(LIST_LINKS).bind(limit).fetch_all(pool).await
}

const FIND_LIVE: &str = "SELECT s.id, s.csrf_token, s.role, s.rep_id, s.api_key_id, s.expires_at \
     FROM sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id \
     WHERE s.token_hash = $1 AND s.signed_out_at IS NULL AND s.expires_at > $2 \
       AND (s.api_key_id IS NULL OR k.revoked_at IS NULL)";

/// The live session with this token: not signed out, not expired, and its key (if it was
/// opened with one) not revoked.
pub async fn find_live(
    pool: &PgPool,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as(FIND_LIVE)
        .bind(hash_token(token))
        .bind(now)
        .fetch_optional(pool)
        .await
}

const SIGN_OUT: &str =
    "UPDATE sessions SET signed_out_at = $2 WHERE id = $1 AND signed_out_at IS NULL";

/// Ends a session; signing out twice changes nothing.
pub async fn sign_out(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(SIGN_OUT)
        .bind(id)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

statements!(
    CREATE_LINK,
    USE_LINK,
    CREATE_SESSION,
    FIND_LINK,
    LIST_LINKS,
    FIND_LIVE,
    SIGN_OUT
);
