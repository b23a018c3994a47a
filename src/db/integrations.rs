//! Receipts of the CRM adapters' deliveries, so that a redelivery is recognised.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

const SEEN: &str =
    "SELECT EXISTS (SELECT 1 FROM integration_receipts WHERE provider = $1 AND key = $2)";

/// Whether `(provider, key)` was processed before.
pub async fn seen(db: &PgPool, provider: &str, key: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(SEEN)
        .bind(provider)
        .bind(key)
        .fetch_one(db)
        .await
}

const REMEMBER: &str = "INSERT INTO integration_receipts (provider, key, lead_id, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";

/// Remembers `(provider, key)` as processed.
pub async fn remember(
    db: &PgPool,
    provider: &str,
    key: &str,
    lead: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(REMEMBER)
        .bind(provider)
        .bind(key)
        .bind(lead)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

statements!(SEEN, REMEMBER);
