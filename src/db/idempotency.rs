//! Stored first responses for `Idempotency-Key`.

use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// How long a key's first response is replayed.
pub const RETENTION: Duration = Duration::hours(24);
/// How long an in-flight claim lasts unless its holder renews it: a holder that crashed (or
/// whose replica was stopped) frees its key after this, instead of after [`RETENTION`]. While
/// a request runs, `created_at` of its row is its last renewal.
pub const LEASE: Duration = Duration::seconds(30);

#[derive(Debug, FromRow)]
pub struct Stored {
    pub request_hash: Vec<u8>,
    /// `None` while the first request is still being handled.
    pub status: Option<i16>,
    pub headers: Option<serde_json::Value>,
    pub body: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
}

const CLAIM: &str = "INSERT INTO idempotency_keys (api_key_id, key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT ON CONSTRAINT idempotency_keys_pkey DO UPDATE \
           SET request_hash = EXCLUDED.request_hash, status = NULL, headers = NULL, body = NULL, \
               created_at = EXCLUDED.created_at \
           WHERE idempotency_keys.created_at < $5 \
              OR (idempotency_keys.status IS NULL AND idempotency_keys.created_at < $6)";
const STORED_RECORD: &str =
    "SELECT request_hash, status, headers, body, created_at FROM idempotency_keys \
         WHERE api_key_id = $1 AND key = $2";

/// Claims the key for this request. `Ok(None)` means it is ours to handle; `Ok(Some(row))`
/// means an earlier request holds it (a response older than [`RETENTION`], or an in-flight
/// claim not renewed for [`LEASE`], is taken over).
pub async fn claim(
    pool: &PgPool,
    api_key: Uuid,
    key: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Stored>, sqlx::Error> {
    let claimed = sqlx::query(CLAIM)
        .bind(api_key)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now - RETENTION)
        .bind(now - LEASE)
        .execute(pool)
        .await?
        .rows_affected()
        == 1;
    if claimed {
        return Ok(None);
    }
    sqlx::query_as(STORED_RECORD)
        .bind(api_key)
        .bind(key)
        .fetch_optional(pool)
        .await
}

const COMPLETE: &str = "UPDATE idempotency_keys SET status = $4, headers = $5, body = $6 \
         WHERE api_key_id = $1 AND key = $2 AND request_hash = $3 AND status IS NULL";

/// Stores the response of the request that holds the claim: not if another request with other
/// content took the key over after this one's lease ran out, nor over a stored response.
pub async fn complete(
    pool: &PgPool,
    api_key: Uuid,
    key: &str,
    request_hash: &[u8],
    status: u16,
    headers: &serde_json::Value,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(COMPLETE)
        .bind(api_key)
        .bind(key)
        .bind(request_hash)
        .bind(status as i16)
        .bind(headers)
        .bind(body)
        .execute(pool)
        .await?;
    Ok(())
}

const RENEW: &str = "UPDATE idempotency_keys SET created_at = $4 \
         WHERE api_key_id = $1 AND key = $2 AND request_hash = $3 AND status IS NULL";

/// Extends the in-flight claim of a request that is still running (see [`LEASE`]).
pub async fn renew(
    pool: &PgPool,
    api_key: Uuid,
    key: &str,
    request_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(RENEW)
        .bind(api_key)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

const RELEASE: &str =
    "DELETE FROM idempotency_keys WHERE api_key_id = $1 AND key = $2 AND status IS NULL";

/// Gives the key up (the request failed on our side, so a retry must run again).
pub async fn release(pool: &PgPool, api_key: Uuid, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query(RELEASE)
        .bind(api_key)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

statements!(CLAIM, STORED_RECORD, COMPLETE, RENEW, RELEASE);
