//! Downstream outcomes (`lead_outcomes`): storing one with its history entry in one
//! statement, and reading it back. Reports read outcomes through the cycle scan
//! (`db::cycle_blocks`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::leads::Who;
use crate::domain::outcome::NewOutcome;

/// A stored outcome, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow, ToSchema)]
pub struct Outcome {
    pub id: Uuid,
    pub lead_id: Uuid,
    /// The lead's cycle the outcome belongs to (its current one when stored).
    pub cycle: i32,
    /// `meeting_booked`, `meeting_held`, `sql`, `opportunity`, `won` or `lost`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub amount: Option<f64>,
    pub currency: Option<String>,
    pub external_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// Inserts the outcome for the lead's cycle `$3` (none when the lead has moved to another
/// cycle meanwhile, or when the same outcome is stored already) and, from the inserted row,
/// its `outcome` history entry: both or neither.
const INSERT: &str = "WITH o AS ( \
           INSERT INTO lead_outcomes (id, lead_id, cycle, cycle_routed_at, kind, at, amount, \
             currency, external_id, actor, recorded_at) \
           SELECT $1, l.id, l.cycle, l.routed_at, $4, $5, $6::float8, $7, $8, $9, $11 \
           FROM leads l WHERE l.id = $2 AND l.cycle = $3 \
           ON CONFLICT DO NOTHING RETURNING *), \
         h AS ( \
           INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, code, \
             data, occurred_at, recorded_at) \
           SELECT o.lead_id, o.cycle, 'outcome', o.actor, $10, $12, o.kind, \
             jsonb_strip_nulls(jsonb_build_object('outcome_id', o.id, 'amount', o.amount, \
               'currency', o.currency, 'external_id', o.external_id)), o.at, o.recorded_at \
           FROM o) \
         SELECT id, lead_id, cycle, kind, at, amount::float8 AS amount, currency, external_id, \
           recorded_at FROM o";

/// The outcome an insert conflicted with: same lead, kind and external id, or, without an
/// external id, same lead, cycle and kind.
const EXISTING: &str = "SELECT id, lead_id, cycle, kind, at, amount::float8 AS amount, \
           currency, external_id, recorded_at FROM lead_outcomes \
         WHERE lead_id = $1 AND kind = $2 \
           AND (external_id = $3 OR ($3::text IS NULL AND external_id IS NULL AND cycle = $4))";

/// The lead and cycle an outcome is stored for, and who reports it.
pub struct OutcomeWrite<'a> {
    pub lead_id: Uuid,
    pub cycle: i32,
    /// The lead's owner: the rep the history entry is recorded for.
    pub rep: Option<&'a str>,
    pub who: Who<'a>,
    pub now: DateTime<Utc>,
}

/// What an insert did.
pub enum Stored {
    Created(Outcome),
    /// The same outcome was stored before (or by a concurrent request): that one.
    Existing(Outcome),
    /// The lead is no longer in `cycle`: read it again.
    Moved,
}

/// Stores `o` once (see [`INSERT`] and [`EXISTING`]).
pub async fn insert(pool: &PgPool, w: &OutcomeWrite<'_>, o: &NewOutcome) -> sqlx::Result<Stored> {
    let (amount, currency) = o.amount.clone().unzip();
    let created: Option<Outcome> = sqlx::query_as(INSERT)
        .bind(Uuid::now_v7())
        .bind(w.lead_id)
        .bind(w.cycle)
        .bind(o.kind.as_str())
        .bind(o.at)
        .bind(amount)
        .bind(currency)
        .bind(o.external_id.as_deref())
        .bind(w.who.actor)
        .bind(w.who.role)
        .bind(w.now)
        .bind(w.rep)
        .fetch_optional(pool)
        .await?;
    if let Some(c) = created {
        return Ok(Stored::Created(c));
    }
    let existing: Option<Outcome> = sqlx::query_as(EXISTING)
        .bind(w.lead_id)
        .bind(o.kind.as_str())
        .bind(o.external_id.as_deref())
        .bind(w.cycle)
        .fetch_optional(pool)
        .await?;
    Ok(existing.map_or(Stored::Moved, Stored::Existing))
}

statements!(INSERT, EXISTING);
