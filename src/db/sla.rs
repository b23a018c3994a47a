//! SLA policies and calendars (small tables, read through `crate::sla::SlaCache`), and the
//! scanner's claim-and-flag statement.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

/// A stored SLA policy.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct PolicyRow {
    /// The lead type it applies to, or `default`.
    pub lead_type: String,
    /// ISO 8601 duration of working time, e.g. `PT1H`.
    pub accept_within: String,
    #[serde(skip)]
    pub accept_within_s: i64,
    /// ISO 8601 duration of working time from acceptance to the first touch.
    pub first_touch_within: String,
    #[serde(skip)]
    pub first_touch_within_s: i64,
    /// Share of the accept window after which the lead is flagged at risk.
    pub at_risk_ratio: f64,
    /// `notify`, `return_to_queue` or `reassign`.
    pub on_breach: String,
    /// Calendar id; null means 24×7.
    #[serde(rename = "calendar")]
    pub calendar_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A stored calendar.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct CalendarRow {
    pub id: String,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// `[{"weekday": "mon", "start": "09:00", "end": "17:00"}, …]`, local wall-clock times.
    #[schema(value_type = Vec<Object>)]
    pub windows: Value,
    /// Local dates with no working time: `["2026-12-25", …]`.
    #[schema(value_type = Vec<String>)]
    pub holidays: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const POLICIES: &str = "SELECT * FROM sla_policies ORDER BY lead_type";

pub async fn policies(pool: &PgPool) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as(POLICIES).fetch_all(pool).await
}

const CALENDARS: &str = "SELECT * FROM calendars ORDER BY id";

pub async fn calendars(pool: &PgPool) -> Result<Vec<CalendarRow>, sqlx::Error> {
    sqlx::query_as(CALENDARS).fetch_all(pool).await
}

const UPSERT_POLICY: &str =
    "INSERT INTO sla_policies (lead_type, accept_within, accept_within_s, first_touch_within, \
           first_touch_within_s, at_risk_ratio, on_breach, calendar_id, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (lead_type) DO UPDATE SET accept_within = EXCLUDED.accept_within, \
           accept_within_s = EXCLUDED.accept_within_s, \
           first_touch_within = EXCLUDED.first_touch_within, \
           first_touch_within_s = EXCLUDED.first_touch_within_s, \
           at_risk_ratio = EXCLUDED.at_risk_ratio, on_breach = EXCLUDED.on_breach, \
           calendar_id = EXCLUDED.calendar_id, updated_at = EXCLUDED.updated_at \
         RETURNING *";

pub async fn upsert_policy(pool: &PgPool, p: &PolicyRow) -> Result<PolicyRow, sqlx::Error> {
    sqlx::query_as(UPSERT_POLICY)
        .bind(&p.lead_type)
        .bind(&p.accept_within)
        .bind(p.accept_within_s)
        .bind(&p.first_touch_within)
        .bind(p.first_touch_within_s)
        .bind(p.at_risk_ratio)
        .bind(&p.on_breach)
        .bind(&p.calendar_id)
        .bind(p.updated_at)
        .fetch_one(pool)
        .await
}

const UPSERT_CALENDAR: &str = "INSERT INTO calendars (id, name, time_zone, windows, holidays, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, time_zone = EXCLUDED.time_zone, \
           windows = EXCLUDED.windows, holidays = EXCLUDED.holidays, updated_at = EXCLUDED.updated_at \
         RETURNING *";

pub async fn upsert_calendar(pool: &PgPool, c: &CalendarRow) -> Result<CalendarRow, sqlx::Error> {
    sqlx::query_as(UPSERT_CALENDAR)
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.time_zone)
        .bind(&c.windows)
        .bind(&c.holidays)
        .bind(c.updated_at)
        .fetch_one(pool)
        .await
}

/// What one scanner step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct ScanCounts {
    /// Leads claimed and examined.
    pub leads: i64,
    pub at_risk: i64,
    pub breached: i64,
    pub first_touch_breached: i64,
    pub returned_to_queue: i64,
    /// Escalation steps that gave the lead to another rep (set by the scanner, not this query).
    #[sqlx(default)]
    pub reassigned: i64,
}

/// Claims up to `batch` leads whose next SLA check is due at `now` (skipping rows another
/// scanner or a request holds), flags every deadline that passed exactly once, applies
/// `on_breach: return_to_queue`, and appends one history event per flag, all in one statement
/// (one transaction): a crash in the middle loses and duplicates nothing.
pub async fn scan_due<'e>(
    db: impl sqlx::PgExecutor<'e>,
    now: DateTime<Utc>,
    batch: i64,
) -> Result<ScanCounts, sqlx::Error> {
    sqlx::query_as(SCAN_SQL)
        .bind(now)
        .bind(batch)
        .fetch_one(db)
        .await
}

/// [`scan_due`]'s statement (`$1` the time, `$2` the batch size); public so a test can EXPLAIN
/// the very statement the scanner runs.
pub const SCAN_SQL: &str = r#"
WITH due AS (
    SELECT l.id, l.state, l.sla_at_risk_at, l.sla_at_risk_flagged_at, l.sla_due_at,
           l.sla_breached_at, l.first_touch_due_at, l.first_touched_at, l.first_touch_breached_at,
           l.owner AS owner_before, COALESCE(p.on_breach, 'notify') AS on_breach
    FROM leads l
    LEFT JOIN sla_policies p ON p.lead_type = l.sla_policy
    WHERE l.sla_next_check_at <= $1
      AND NOT (l.state = 'routed' AND l.sla_breached_at IS NOT NULL)
    ORDER BY l.sla_next_check_at
    LIMIT $2
    FOR UPDATE OF l SKIP LOCKED
), flags AS (
    SELECT d.*,
        (d.state = 'routed' AND d.sla_at_risk_flagged_at IS NULL AND d.sla_at_risk_at <= $1) AS at_risk,
        (d.state = 'routed' AND d.sla_breached_at IS NULL AND d.sla_due_at <= $1) AS breached,
        (d.state = 'accepted' AND d.first_touched_at IS NULL AND d.first_touch_breached_at IS NULL
            AND d.first_touch_due_at <= $1) AS ft_breached
    FROM due d
), upd AS (
    UPDATE leads l SET
        sla_at_risk_flagged_at = CASE WHEN f.at_risk THEN f.sla_at_risk_at ELSE l.sla_at_risk_flagged_at END,
        sla_breached_at = CASE WHEN f.breached THEN f.sla_due_at ELSE l.sla_breached_at END,
        first_touch_breached_at = CASE WHEN f.ft_breached THEN f.first_touch_due_at ELSE l.first_touch_breached_at END,
        owner = CASE WHEN f.breached AND f.on_breach = 'return_to_queue' THEN NULL ELSE l.owner END,
        -- `reassign`: the escalation step takes it from here, at once.
        escalation_due_at = CASE WHEN f.breached AND f.on_breach = 'reassign' THEN f.sla_due_at
                                 ELSE l.escalation_due_at END,
        version = l.version + 1,
        updated_at = $1
    FROM flags f
    WHERE l.id = f.id
    RETURNING l.id, l.cycle, f.owner_before, f.at_risk, f.breached, f.ft_breached,
        f.breached AND f.on_breach = 'return_to_queue' AS returned,
        f.sla_at_risk_at, f.sla_due_at, f.first_touch_due_at
), events AS (
    SELECT u.id, u.cycle, u.owner_before, e.kind, e.ord, e.at
    FROM upd u
    CROSS JOIN LATERAL (VALUES
        ('sla_at_risk', 1, u.at_risk, u.sla_at_risk_at),
        ('sla_breached', 2, u.breached, u.sla_due_at),
        ('returned_to_queue', 3, u.returned, u.sla_due_at),
        ('first_touch_breached', 4, u.ft_breached, u.first_touch_due_at)
    ) AS e(kind, ord, hit, at)
    WHERE e.hit
), ins AS (
    INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, occurred_at, recorded_at)
    SELECT id, cycle, kind, 'system', 'system', owner_before, at, $1
    FROM events ORDER BY id, ord
)
SELECT
    (SELECT count(*) FROM upd) AS leads,
    count(*) FILTER (WHERE kind = 'sla_at_risk') AS at_risk,
    count(*) FILTER (WHERE kind = 'sla_breached') AS breached,
    count(*) FILTER (WHERE kind = 'first_touch_breached') AS first_touch_breached,
    count(*) FILTER (WHERE kind = 'returned_to_queue') AS returned_to_queue
FROM events
"#;

statements!(
    SCAN_SQL,
    POLICIES,
    CALENDARS,
    UPSERT_POLICY,
    UPSERT_CALENDAR
);
