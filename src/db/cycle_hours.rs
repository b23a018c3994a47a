//! Compacted hours (see the `cycle_hours` migration): the compactor's rebuild, and the
//! unfiltered acceptance report read from compacted hours plus the raw cycles of dirty hours.

use chrono::{DateTime, Duration, Utc};
use sqlx::{FromRow, PgPool};

use super::metrics::AcceptanceRow;
use crate::domain::metrics::percentile_disc_select;

/// Advisory lock key of the compactor: one at a time across replicas.
const COMPACTOR_LOCK: i64 = 0x5a17_c0de_0001;

/// What one compaction step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Compacted {
    /// Hours rebuilt.
    pub hours: i64,
    /// Another replica's compactor held the lock; nothing was done.
    pub busy: bool,
}

const REPEATABLE_READ: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
const TRY_COMPACTOR_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";
const TAKE_MARKS: &str = "DELETE FROM cycle_hour_marks WHERE hour IN ( \
           SELECT DISTINCT hour FROM cycle_hour_marks \
           WHERE hour < date_trunc('hour', $1::timestamptz, 'UTC') ORDER BY hour LIMIT $2) \
         RETURNING hour";
const REBUILD_HOURS: &str =
    "INSERT INTO cycle_hours (hour, routed, accepted, rejected, recycled, within_sla, \
               decision_s, compacted_at) \
             SELECT h.hour, count(c.lead_id), \
               count(*) FILTER (WHERE c.outcome = 'accepted'), \
               count(*) FILTER (WHERE c.outcome = 'rejected'), \
               count(*) FILTER (WHERE c.outcome = 'recycled'), \
               count(*) FILTER (WHERE c.outcome = 'accepted' AND c.accepted_within_sla), \
               COALESCE(array_agg(extract(epoch FROM c.decided_at - c.routed_at)::float8) \
                 FILTER (WHERE c.decided_at IS NOT NULL), '{}'), $2 \
             FROM unnest($1::timestamptz[]) AS h(hour) \
             LEFT JOIN lead_cycles c \
               ON c.routed_at >= h.hour AND c.routed_at < h.hour + interval '1 hour' \
             GROUP BY h.hour \
             ON CONFLICT (hour) DO UPDATE SET routed = EXCLUDED.routed, \
               accepted = EXCLUDED.accepted, rejected = EXCLUDED.rejected, \
               recycled = EXCLUDED.recycled, within_sla = EXCLUDED.within_sla, \
               decision_s = EXCLUDED.decision_s, compacted_at = EXCLUDED.compacted_at";

/// Rebuilds up to `limit` marked hours before the hour of `now` and deletes their marks, in one
/// REPEATABLE READ transaction: the rebuild sees exactly the changes whose marks it deletes.
pub async fn compact(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Compacted, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(REPEATABLE_READ).execute(&mut *tx).await?;
    let locked: bool = sqlx::query_scalar(TRY_COMPACTOR_LOCK)
        .bind(COMPACTOR_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(Compacted {
            hours: 0,
            busy: true,
        });
    }
    let mut hours: Vec<DateTime<Utc>> = sqlx::query_scalar(TAKE_MARKS)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    hours.sort();
    hours.dedup();
    if !hours.is_empty() {
        sqlx::query(REBUILD_HOURS)
            .bind(&hours)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Compacted {
        hours: hours.len() as i64,
        busy: false,
    })
}

/// A compacted hour, or one raw cycle of a dirty hour.
#[derive(Debug, Clone, FromRow)]
pub struct Piece {
    /// The hour, or the cycle's routing time.
    pub at: DateTime<Utc>,
    pub routed: i32,
    pub accepted: i32,
    pub rejected: i32,
    pub recycled: i32,
    pub within_sla: i32,
    pub decision_s: Vec<f64>,
}

/// The first and the end of the whole UTC hours inside `[from, to)`; `None` when there is none.
pub fn whole_hours(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    // Seconds rather than `duration_trunc`, which fails outside 1678..2262 (nanoseconds).
    let floor =
        |t: DateTime<Utc>| DateTime::from_timestamp(t.timestamp().div_euclid(3600) * 3600, 0);
    let first = floor(from)?;
    let first = if first < from {
        first.checked_add_signed(Duration::hours(1))?
    } else {
        first
    };
    let last = floor(to)?;
    (first < last).then_some((first, last))
}

const PIECES: &str = "WITH clean AS ( \
           SELECT h.* FROM cycle_hours h WHERE h.hour >= $3 AND h.hour < $4 \
             AND NOT EXISTS (SELECT 1 FROM cycle_hour_marks m WHERE m.hour = h.hour)), \
         gaps AS ( \
           SELECT g AS start, g + interval '1 hour' AS stop \
           FROM generate_series($3::timestamptz, $4::timestamptz - interval '1 hour', \
                                interval '1 hour') AS g \
           WHERE NOT EXISTS (SELECT 1 FROM clean WHERE clean.hour = g) \
           UNION ALL SELECT $1, $3 WHERE $1 < $3 \
           UNION ALL SELECT $4, $2 WHERE $4 < $2) \
         SELECT hour AS at, routed, accepted, rejected, recycled, within_sla, decision_s \
         FROM clean \
         UNION ALL \
         SELECT c.routed_at, 1, (c.outcome IS NOT DISTINCT FROM 'accepted')::int, \
           (c.outcome IS NOT DISTINCT FROM 'rejected')::int, \
           (c.outcome IS NOT DISTINCT FROM 'recycled')::int, \
           COALESCE(c.outcome = 'accepted' AND c.accepted_within_sla, false)::int, \
           CASE WHEN c.decided_at IS NULL THEN '{}'::float8[] \
                ELSE ARRAY[extract(epoch FROM c.decided_at - c.routed_at)::float8] END \
         FROM gaps JOIN lead_cycles c ON c.routed_at >= gaps.start AND c.routed_at < gaps.stop";

/// The cycles routed in `[from, to)` as compacted hours where an hour is clean, raw cycles
/// elsewhere, read in one statement. `None` when the period spans no whole hour.
pub async fn pieces(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<Vec<Piece>>, sqlx::Error> {
    let Some((first, last)) = whole_hours(from, to) else {
        return Ok(None);
    };
    sqlx::query_as(PIECES)
        .bind(from)
        .bind(to)
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await
        .map(Some)
}

/// Folds pieces into acceptance rows: one per bucket (`starts` are the buckets' first
/// instants, ascending, each on a whole UTC hour) plus the total. Ungrouped when `starts` is
/// `None`. Same figures as `metrics::acceptance` over the same cycles.
pub fn fold(pieces: &[Piece], keys: Option<(&[String], &[DateTime<Utc>])>) -> Vec<AcceptanceRow> {
    let n = keys.map_or(1, |(k, _)| k.len());
    let mut groups: Vec<(AcceptanceRow, Vec<f64>)> = (0..n)
        .map(|i| {
            (
                empty_row(keys.map(|(k, _)| k[i].clone()), false),
                Vec::new(),
            )
        })
        .collect();
    for p in pieces {
        let i = match keys {
            None => 0,
            Some((_, starts)) => match starts.partition_point(|s| *s <= p.at).checked_sub(1) {
                Some(i) => i,
                None => continue,
            },
        };
        let (row, times) = &mut groups[i];
        row.routed += i64::from(p.routed);
        row.accepted += i64::from(p.accepted);
        row.rejected += i64::from(p.rejected);
        row.recycled += i64::from(p.recycled);
        row.accepted_within_sla += i64::from(p.within_sla);
        times.extend_from_slice(&p.decision_s);
    }
    let mut total = (empty_row(None, true), Vec::new());
    let mut out = Vec::with_capacity(n + 1);
    for (mut row, mut times) in groups {
        row.open = row.routed - row.accepted - row.rejected - row.recycled;
        total.0.routed += row.routed;
        total.0.accepted += row.accepted;
        total.0.rejected += row.rejected;
        total.0.recycled += row.recycled;
        total.0.open += row.open;
        total.0.accepted_within_sla += row.accepted_within_sla;
        total.1.extend_from_slice(&times);
        row.time_to_decision = percentiles(&mut times);
        if keys.is_some() {
            out.push(row);
        }
    }
    total.0.time_to_decision = percentiles(&mut total.1);
    out.push(total.0);
    out
}

fn empty_row(key: Option<String>, total: bool) -> AcceptanceRow {
    AcceptanceRow {
        key,
        total,
        routed: 0,
        accepted: 0,
        rejected: 0,
        recycled: 0,
        open: 0,
        accepted_within_sla: 0,
        time_to_decision: None,
    }
}

fn percentiles(times: &mut [f64]) -> Option<Vec<f64>> {
    Some(vec![
        percentile_disc_select(times, 0.5)?,
        percentile_disc_select(times, 0.9)?,
    ])
}

statements!(
    REPEATABLE_READ,
    TRY_COMPACTOR_LOCK,
    TAKE_MARKS,
    REBUILD_HOURS,
    PIECES
);
