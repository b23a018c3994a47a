//! The per-owner, per-queue and per-campaign acceptance tables of the dashboard from one scan
//! of the cycles, each equal to the acceptance report grouped by that field.

use sqlx::{FromRow, PgPool, QueryBuilder};

use super::{AcceptanceRow, Scope};

/// A row of [`acceptance_by_fields`]: one owner's, queue's or campaign's, or the total.
#[derive(Debug, Clone, FromRow)]
struct FieldRow {
    owner: Option<String>,
    queue: Option<String>,
    campaign: Option<String>,
    g_owner: i32,
    g_queue: i32,
    g_campaign: i32,
    routed: i64,
    accepted: i64,
    rejected: i64,
    recycled: i64,
    open: i64,
    accepted_within_sla: i64,
    time_to_decision: Option<Vec<f64>>,
}

/// The acceptance rows grouped by owner, by queue and by campaign (each with the total
/// row), as [`acceptance`] gives them for each grouping, from one scan of the cycles
/// (`GROUPING SETS`) instead of three.
pub async fn acceptance_by_fields(
    pool: &PgPool,
    scope: &Scope,
) -> Result<[Vec<AcceptanceRow>; 3], sqlx::Error> {
    let mut q = QueryBuilder::new(
        "SELECT owner, queue, campaign, GROUPING(owner) AS g_owner, \
         GROUPING(queue) AS g_queue, GROUPING(campaign) AS g_campaign, ",
    );
    q.push(super::ACCEPTANCE_AGGREGATES).push(" FROM (");
    let columns = super::acceptance_columns("c.owner, c.queue, c.campaign, ");
    super::push_cycles(&mut q, scope, None, &columns);
    q.push(") s GROUP BY GROUPING SETS ((owner), (queue), (campaign), ())");
    let rows: Vec<FieldRow> = q.build_query_as().fetch_all(pool).await?;
    let mut out: [Vec<AcceptanceRow>; 3] = Default::default();
    for r in rows {
        let row = |key: Option<String>, total: bool| AcceptanceRow {
            key,
            total,
            routed: r.routed,
            accepted: r.accepted,
            rejected: r.rejected,
            recycled: r.recycled,
            open: r.open,
            accepted_within_sla: r.accepted_within_sla,
            time_to_decision: r.time_to_decision.clone(),
        };
        match (r.g_owner, r.g_queue, r.g_campaign) {
            (0, _, _) => out[0].push(row(r.owner.clone(), false)),
            (_, 0, _) => out[1].push(row(r.queue.clone(), false)),
            (_, _, 0) => out[2].push(row(r.campaign.clone(), false)),
            _ => {
                for rows in &mut out {
                    rows.push(row(None, true));
                }
            }
        }
    }
    Ok(out)
}
