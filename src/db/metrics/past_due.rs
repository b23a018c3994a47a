//! The silent non-acceptance list: the cycles of a report's scope still undecided past their
//! due time now (the dashboard links each to its lead).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, QueryBuilder};

use super::Scope;

/// One cycle still undecided past its due time (silent non-acceptance).
#[derive(Debug, Clone, FromRow)]
pub struct PastDueRow {
    pub lead_id: uuid::Uuid,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub routed_at: DateTime<Utc>,
    pub sla_due_at: DateTime<Utc>,
}

/// The cycles of `scope` that the SLA report counts as `open_past_due` at `now`, longest
/// overdue first, at most `limit` of them.
pub async fn open_past_due(
    pool: &PgPool,
    scope: &Scope,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PastDueRow>, sqlx::Error> {
    let mut q = QueryBuilder::new("");
    super::push_cycles(
        &mut q,
        scope,
        None,
        "c.lead_id, c.owner, c.queue, c.routed_at, c.sla_due_at",
    );
    q.push(" AND ");
    super::push_open_past_due(&mut q, "c.", now);
    q.push(" ORDER BY c.sla_due_at, c.lead_id LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(pool).await
}
