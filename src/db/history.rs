//! The append-only lead history. Rows are written by the statements in `leads` (in the same
//! statement as the state change); this module only reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

/// One transition or event in a lead's life.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub cycle: i32,
    /// `routed`, `accepted`, `rejected`, `recycled` (transitions), or an event name.
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    /// Who did it: `key:<api key id>`, or `system`.
    pub actor: String,
    pub actor_role: String,
    /// The rep the entry is recorded for (decider, or owner at routing).
    pub rep: Option<String>,
    /// Rejection code or recycle reason.
    pub code: Option<String>,
    pub note: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

const FOR_LEAD: &str =
    "SELECT id, cycle, kind, from_state, to_state, actor, actor_role, rep_id AS rep, code, \
         note, data, occurred_at, recorded_at FROM lead_history WHERE lead_id = $1 ORDER BY id";

pub async fn for_lead(pool: &PgPool, lead_id: Uuid) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    sqlx::query_as(FOR_LEAD).bind(lead_id).fetch_all(pool).await
}

statements!(FOR_LEAD);
