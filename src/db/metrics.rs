//! Report queries over `lead_cycles`, the per-cycle projection of the history log (see the
//! `lead_cycles` migration). Every figure counts cycles routed in `[from, to)`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

use crate::domain::metrics::Period;

mod fields;
mod past_due;
pub use fields::acceptance_by_fields;
pub use past_due::{open_past_due, PastDueRow};

/// The one predicate of "open past due at `now`": undecided, and its decision due time has
/// come. Both the SLA report's count and the list of those cycles use it.
fn push_open_past_due(q: &mut QueryBuilder<'_, Postgres>, alias: &str, now: DateTime<Utc>) {
    q.push(format!("{alias}outcome IS NULL AND {alias}sla_due_at <= "))
        .push_bind(now);
}

/// What a report is grouped by (docs/api.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Source,
    Campaign,
    Channel,
    LeadType,
    Queue,
    Owner,
    Time(Period),
}

impl GroupBy {
    pub const NAMES: &'static str =
        "source, campaign, channel, lead_type, queue, owner, day, week, month";

    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "source" => GroupBy::Source,
            "campaign" => GroupBy::Campaign,
            "channel" => GroupBy::Channel,
            "lead_type" => GroupBy::LeadType,
            "queue" => GroupBy::Queue,
            "owner" => GroupBy::Owner,
            "day" => GroupBy::Time(Period::Day),
            "week" => GroupBy::Time(Period::Week),
            "month" => GroupBy::Time(Period::Month),
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Source => "source",
            GroupBy::Campaign => "campaign",
            GroupBy::Channel => "channel",
            GroupBy::LeadType => "lead_type",
            GroupBy::Queue => "queue",
            GroupBy::Owner => "owner",
            GroupBy::Time(p) => p.unit(),
        }
    }
}

/// The cycles a report covers.
#[derive(Debug, Clone)]
pub struct Scope {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Day, week and month buckets are local to this zone.
    pub tz: Tz,
    pub source: Option<String>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub lead_type: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
}

impl Scope {
    pub fn with_range(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Scope {
        Scope {
            from,
            to,
            ..self.clone()
        }
    }
}

/// Pushes `SELECT <key> AS key, <columns> FROM lead_cycles c WHERE <scope>`: the inner query
/// every report aggregates over. The key is the group (text; a time bucket as `YYYY-MM-DD`),
/// or NULL for an ungrouped report.
fn push_cycles<'a>(
    q: &mut QueryBuilder<'a, Postgres>,
    scope: &'a Scope,
    group: Option<GroupBy>,
    columns: &str,
) {
    q.push("SELECT ");
    match group {
        None => q.push("NULL::text"),
        Some(GroupBy::Time(p)) => q
            .push(format!(
                "to_char(date_trunc('{}', c.routed_at AT TIME ZONE ",
                p.unit()
            ))
            .push_bind(scope.tz.name())
            .push("), 'YYYY-MM-DD')"),
        Some(g) => q.push(format!("c.{}", g.as_str())),
    };
    q.push(" AS key, ")
        .push(columns)
        .push(" FROM lead_cycles c WHERE c.routed_at >= ")
        .push_bind(scope.from)
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
}

/// `SELECT key, GROUPING(key) = 1 AS total, <aggregates> FROM (<cycles>) s GROUP BY …`: one row
/// per group and the grand total in one pass (just the total when ungrouped).
fn grouped_report<'a>(
    scope: &'a Scope,
    group: Option<GroupBy>,
    columns: &str,
    aggregates: impl FnOnce(&mut QueryBuilder<'a, Postgres>),
) -> QueryBuilder<'a, Postgres> {
    let mut q = QueryBuilder::new(if group.is_some() {
        "SELECT key, GROUPING(key) = 1 AS total, "
    } else {
        "SELECT NULL::text AS key, true AS total, "
    });
    aggregates(&mut q);
    q.push(" FROM (");
    push_cycles(&mut q, scope, group, columns);
    q.push(") s");
    if group.is_some() {
        q.push(" GROUP BY GROUPING SETS ((key), ())");
    }
    q
}

/// Seconds between two timestamptz columns, as float8 (microsecond precision).
fn seconds(later: &str, earlier: &str) -> String {
    format!("extract(epoch FROM {later} - {earlier})::float8")
}

/// One row of the acceptance report.
#[derive(Debug, Clone, FromRow)]
pub struct AcceptanceRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub recycled: i64,
    pub open: i64,
    pub accepted_within_sla: i64,
    /// p50 and p90 of seconds from routing to the gate decision; NULL with no decisions.
    pub time_to_decision: Option<Vec<f64>>,
}

pub async fn acceptance(
    pool: &PgPool,
    scope: &Scope,
    group: Option<GroupBy>,
) -> Result<Vec<AcceptanceRow>, sqlx::Error> {
    let columns = acceptance_columns("");
    let mut q = grouped_report(scope, group, &columns, |q| {
        q.push(ACCEPTANCE_AGGREGATES);
    });
    q.build_query_as().fetch_all(pool).await
}

/// The per-cycle columns the acceptance aggregates read, after `extra` ones.
fn acceptance_columns(extra: &str) -> String {
    format!(
        "{extra}c.outcome, c.accepted_within_sla, {} AS decision_s",
        seconds("c.decided_at", "c.routed_at")
    )
}

const ACCEPTANCE_AGGREGATES: &str = "count(*) AS routed, \
     count(*) FILTER (WHERE outcome = 'accepted') AS accepted, \
     count(*) FILTER (WHERE outcome = 'rejected') AS rejected, \
     count(*) FILTER (WHERE outcome = 'recycled') AS recycled, \
     count(*) FILTER (WHERE outcome IS NULL) AS open, \
     count(*) FILTER (WHERE outcome = 'accepted' AND accepted_within_sla) AS accepted_within_sla, \
     percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY decision_s) AS time_to_decision";

/// Rejections of one code in one group.
#[derive(Debug, Clone, FromRow)]
pub struct CodeCount {
    pub key: Option<String>,
    pub code: String,
    pub count: i64,
}

/// Rejected cycles per group and code (`code` is the rejection code or, for `recycle_reasons`,
/// the recycle reason).
pub async fn rejections(
    pool: &PgPool,
    scope: &Scope,
    group: Option<GroupBy>,
) -> Result<Vec<CodeCount>, sqlx::Error> {
    code_counts(
        pool,
        scope,
        group,
        "c.rejection_code",
        "c.outcome = 'rejected'",
    )
    .await
}

/// Recycled cycles per group and reason.
pub async fn recycle_reasons(
    pool: &PgPool,
    scope: &Scope,
    group: Option<GroupBy>,
) -> Result<Vec<CodeCount>, sqlx::Error> {
    code_counts(
        pool,
        scope,
        group,
        "c.recycle_reason",
        "c.recycled_at IS NOT NULL",
    )
    .await
}

async fn code_counts(
    pool: &PgPool,
    scope: &Scope,
    group: Option<GroupBy>,
    code: &str,
    condition: &str,
) -> Result<Vec<CodeCount>, sqlx::Error> {
    let mut q = QueryBuilder::new("SELECT key, code, count(*) AS count FROM (");
    push_cycles(
        &mut q,
        scope,
        group,
        &format!("COALESCE({code}, '') AS code"),
    );
    q.push(format!(
        " AND {condition}) s GROUP BY key, code ORDER BY key, code"
    ));
    q.build_query_as().fetch_all(pool).await
}

/// One row of the SLA report.
#[derive(Debug, Clone, FromRow)]
pub struct SlaRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub breached: i64,
    pub open_past_due: i64,
    pub first_touch_met: i64,
    pub first_touch_missed: i64,
    /// p50 and p90 of seconds from routing to the first touch; NULL with no touches.
    pub time_to_first_touch: Option<Vec<f64>>,
}

pub async fn sla(
    pool: &PgPool,
    scope: &Scope,
    group: Option<GroupBy>,
    now: DateTime<Utc>,
) -> Result<Vec<SlaRow>, sqlx::Error> {
    let columns = format!(
        "c.outcome, c.breached, c.sla_due_at, c.first_touch_due_at, c.first_touched_at, \
         {} AS touch_s",
        seconds("c.first_touched_at", "c.routed_at")
    );
    let mut q = grouped_report(scope, group, &columns, |q| {
        q.push(
            "count(*) AS routed, count(*) FILTER (WHERE breached) AS breached, \
             count(*) FILTER (WHERE ",
        );
        push_open_past_due(q, "", now);
        q.push(
            ") AS open_past_due, \
             count(*) FILTER (WHERE first_touch_due_at IS NOT NULL \
               AND first_touched_at <= first_touch_due_at) AS first_touch_met, \
             count(*) FILTER (WHERE first_touch_due_at IS NOT NULL AND \
               (first_touched_at > first_touch_due_at OR \
                (first_touched_at IS NULL AND first_touch_due_at <= ",
        )
        .push_bind(now)
        .push(
            "))) AS first_touch_missed, \
             percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY touch_s) \
               AS time_to_first_touch",
        );
    });
    q.build_query_as().fetch_all(pool).await
}

/// One row of the recycling report.
#[derive(Debug, Clone, FromRow)]
pub struct RecyclingRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub recycled: i64,
    /// Recycled cycles whose lead was routed again later.
    pub rerouted: i64,
    /// Recycled cycles whose lead was accepted in a later cycle.
    pub accepted_later: i64,
}

pub async fn recycling(
    pool: &PgPool,
    scope: &Scope,
    group: Option<GroupBy>,
) -> Result<Vec<RecyclingRow>, sqlx::Error> {
    let columns = "c.recycled_at IS NOT NULL AS was_recycled, \
        (c.recycled_at IS NOT NULL AND EXISTS (SELECT 1 FROM lead_cycles n \
           WHERE n.lead_id = c.lead_id AND n.cycle > c.cycle)) AS was_rerouted, \
        (c.recycled_at IS NOT NULL AND EXISTS (SELECT 1 FROM lead_cycles n \
           WHERE n.lead_id = c.lead_id AND n.cycle > c.cycle AND n.outcome = 'accepted')) \
           AS was_accepted_later";
    let mut q = grouped_report(scope, group, columns, |q| {
        q.push(
            "count(*) AS routed, count(*) FILTER (WHERE was_recycled) AS recycled, \
             count(*) FILTER (WHERE was_rerouted) AS rerouted, \
             count(*) FILTER (WHERE was_accepted_later) AS accepted_later",
        );
    });
    q.build_query_as().fetch_all(pool).await
}
