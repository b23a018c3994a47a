//! Signatures of signed ingest requests already received (docs/api.md §7): each is good once.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

const REMEMBER: &str =
    "INSERT INTO inbound_signatures (source, t, mac, seen_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING";

/// Records the signature `(source, t, mac)`; `false` when it was recorded before (a replay).
pub async fn remember(
    db: &PgPool,
    source: &str,
    t: i64,
    mac: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(REMEMBER)
        .bind(source)
        .bind(t)
        .bind(mac)
        .bind(now)
        .execute(db)
        .await?;
    Ok(inserted.rows_affected() == 1)
}

statements!(REMEMBER);
