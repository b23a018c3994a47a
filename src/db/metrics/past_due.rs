//! The silent non-acceptance list: the cycles of a report's scope still undecided past their
//! due time now (the dashboard links each to its lead).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

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
    let mut q = QueryBuilder::new(
        "SELECT c.lead_id, c.owner, c.queue, c.routed_at, c.sla_due_at FROM lead_cycles c \
         WHERE c.routed_at >= ",
    );
    q.push_bind(scope.from)
        .push(" AND c.routed_at < ")
        .push_bind(scope.to);
    let filters = [
        ("source", &scope.source),
        ("campaign", &scope.campaign),
        ("channel", &scope.channel),
        ("lead_type", &scope.lead_type),
        ("queue", &scope.queue),
        ("owner", &scope.owner),
    ];
    for (column, value) in filters {
        if let Some(v) = value {
            q.push(format!(" AND c.{column} = ")).push_bind(v);
        }
    }
    q.push(" AND ");
    push_open_past_due(&mut q, now);
    q.push(" ORDER BY c.sla_due_at, c.lead_id LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(pool).await
}

/// "Open past due at `now`" in SQL: the form of `CycleFact::open_past_due` (the rule the SLA
/// report counts with) for this list.
fn push_open_past_due(q: &mut QueryBuilder<'_, Postgres>, now: DateTime<Utc>) {
    q.push("c.outcome IS NULL AND c.sla_due_at <= ")
        .push_bind(now);
}
