//! A lead's SLA status in SQL. Its one SQL form is `lead_sla_status(leads, at)`, a function in
//! the migrations written after `domain::sla::status` and tested against it case by case
//! (tests/api/rules.rs); this module holds the two queries that read it, so that the
//! `sla_status` filter of `GET /v1/leads` and the `/metrics` gauges cannot disagree.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

use crate::domain::sla::SlaStatus;

/// Adds `AND` the lead's SLA status at `now` is `status` to a query over `leads`. A lead
/// without deadlines has no status, so no status filter matches it.
pub fn push_filter(q: &mut QueryBuilder<'_, Postgres>, status: SlaStatus, now: DateTime<Utc>) {
    q.push(" AND lead_sla_status(leads, ")
        .push_bind(now)
        .push(") = ")
        .push_bind(status.as_str());
}

/// The open queue as `/metrics` shows it at scrape time.
#[derive(Debug, Clone, Copy, PartialEq, FromRow)]
pub struct OpenLeads {
    /// Routed leads by SLA status (a lead without deadlines is in none of them).
    pub on_track: i64,
    pub at_risk: i64,
    pub breached: i64,
    /// Routed leads without an owner.
    pub unassigned: i64,
    /// Seconds since the oldest SLA check that is due and not yet made.
    pub scan_lag: f64,
    /// Hours whose cycles changed and are not compacted yet.
    pub dirty_hours: i64,
}

const OPEN_LEADS: &str = "SELECT \
           count(*) FILTER (WHERE status = 'on_track') AS on_track, \
           count(*) FILTER (WHERE status = 'at_risk') AS at_risk, \
           count(*) FILTER (WHERE status = 'breached') AS breached, \
           count(*) FILTER (WHERE owner IS NULL) AS unassigned, \
           COALESCE((SELECT extract(epoch FROM $1 - min(sla_next_check_at))::float8 FROM leads \
             WHERE sla_next_check_at <= $1), 0) AS scan_lag, \
           (SELECT count(DISTINCT hour) FROM cycle_hour_marks) AS dirty_hours \
         FROM (SELECT lead_sla_status(leads, $1) AS status, owner FROM leads \
           WHERE state = 'routed') routed";

pub async fn open_leads(pool: &PgPool, now: DateTime<Utc>) -> Result<OpenLeads, sqlx::Error> {
    // Routed leads only (an index on state); the lag reads the scanner's own index.
    sqlx::query_as(OPEN_LEADS).bind(now).fetch_one(pool).await
}

statements!(OPEN_LEADS);
