//! The cycles of the rejection-drivers report (docs/api.md "Rejection drivers"): the decided
//! cycles of a period and scope from `lead_cycles` with the features they were routed with,
//! streamed to the caller; cycles stored before features were (NULL) with their lead's stored
//! inputs instead, for the service to compute theirs. Both in one snapshot.

use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::{FromRow, PgPool, Row};

use super::metrics::{DecidedBy, Scope};

/// The decided cycles of the period and the report filters (`$1`…`$10`), over
/// `lead_cycles c`. The filters read the cycle's own columns, as the other reports do.
macro_rules! decided_in_scope {
    () => {
        "c.routed_at >= $1 AND c.routed_at < $2 AND c.outcome IN ('accepted', 'rejected') \
           AND ($3::text IS NULL OR c.source = $3) AND ($4::text IS NULL OR c.campaign = $4) \
           AND ($5::text IS NULL OR c.channel = $5) AND ($6::text IS NULL OR c.lead_type = $6) \
           AND ($7::text IS NULL OR c.queue = $7) AND ($8::text IS NULL OR c.owner = $8) \
           AND ($9::uuid IS NULL OR c.account_id = $9) \
           AND ($10::boolean IS NULL OR c.decided_by_rule = $10)"
    };
}

const READ_SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

// One row per cycle, not grouped: feature vectors are nearly as many as cycles, and grouping
// such wide keys costs PostgreSQL more than the rows it saves.
pub const FEATURED_CYCLES: &str = concat!(
    "SELECT c.features, c.outcome = 'rejected' AS rejected, c.rejection_code AS code \
     FROM lead_cycles c WHERE c.features IS NOT NULL AND ",
    decided_in_scope!()
);

const UNFEATURED_CYCLES: &str = concat!(
    "SELECT c.outcome = 'rejected' AS rejected, c.rejection_code AS code, c.source, \
       c.campaign, c.channel, c.lead_type, l.title, l.company, l.score, l.attributes \
     FROM lead_cycles c JOIN leads l ON l.id = c.lead_id WHERE c.features IS NULL AND ",
    decided_in_scope!()
);

/// A decided cycle stored without features: the cycle's own fields and its lead's inputs.
#[derive(Debug, Clone, FromRow)]
pub struct UnfeaturedCycle {
    pub rejected: bool,
    pub code: Option<String>,
    pub source: String,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub lead_type: String,
    pub title: Option<String>,
    pub company: Option<Value>,
    pub score: Option<f64>,
    pub attributes: Value,
}

/// Hands every decided cycle of `scope` stored with features to `each` (its encoded features,
/// whether it was rejected, its code) as the rows arrive, and returns the ones stored without,
/// all from one snapshot.
pub async fn scan(
    pool: &PgPool,
    scope: &Scope,
    mut each: impl FnMut(&str, bool, Option<&str>),
) -> Result<Vec<UnfeaturedCycle>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(READ_SNAPSHOT).execute(&mut *tx).await?;
    let account: Option<uuid::Uuid> = scope.account.as_deref().and_then(|a| a.parse().ok());
    let by_rule = scope.decided_by.map(|d| d == DecidedBy::Rule);
    {
        let mut rows = sqlx::query(FEATURED_CYCLES)
            .bind(scope.from)
            .bind(scope.to)
            .bind(&scope.source)
            .bind(&scope.campaign)
            .bind(&scope.channel)
            .bind(&scope.lead_type)
            .bind(&scope.queue)
            .bind(&scope.owner)
            .bind(account)
            .bind(by_rule)
            .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let features: &str = row.try_get(0)?;
            let rejected: bool = row.try_get(1)?;
            let code: Option<&str> = row.try_get(2)?;
            each(features, rejected, code);
        }
    }
    let older: Vec<UnfeaturedCycle> = sqlx::query_as(UNFEATURED_CYCLES)
        .bind(scope.from)
        .bind(scope.to)
        .bind(&scope.source)
        .bind(&scope.campaign)
        .bind(&scope.channel)
        .bind(&scope.lead_type)
        .bind(&scope.queue)
        .bind(&scope.owner)
        .bind(account)
        .bind(by_rule)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(older)
}

statements!(READ_SNAPSHOT, FEATURED_CYCLES, UNFEATURED_CYCLES);
