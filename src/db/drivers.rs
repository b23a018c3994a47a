//! The cycles of the rejection-drivers report (docs/api.md "Rejection drivers") that the cycle
//! scan (`db::cycle_blocks`) has no features for: the decided cycles of a period and scope
//! stored before features were (NULL), with their lead's stored inputs, for the service to
//! compute theirs.

use serde_json::Value;
use sqlx::{FromRow, PgPool};

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

/// Decided cycles stored without features, through `lead_cycles_unfeatured_idx`.
pub const UNFEATURED_CYCLES: &str = concat!(
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

/// The decided cycles of `scope` stored without features.
pub async fn unfeatured(pool: &PgPool, scope: &Scope) -> Result<Vec<UnfeaturedCycle>, sqlx::Error> {
    let account: Option<uuid::Uuid> = scope.account.as_deref().and_then(|a| a.parse().ok());
    let by_rule = scope.decided_by.map(|d| d == DecidedBy::Rule);
    sqlx::query_as(UNFEATURED_CYCLES)
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
        .fetch_all(pool)
        .await
}

statements!(UNFEATURED_CYCLES);
