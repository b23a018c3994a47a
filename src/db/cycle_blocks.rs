//! Compacted hours (see the `cycle_blocks` migration): the compactor's rebuild, and the scan
//! every report reads its cycles through: blocks where an hour is clean, raw `lead_cycles`
//! rows elsewhere, in one snapshot.

use chrono::{DateTime, Duration, Utc};
use futures_util::TryStreamExt;
use sqlx::PgPool;

use crate::domain::cycle_facts::{
    decode_block, encode_block, BlockError, CycleFact, Outcome, FORMAT, HOUR_US,
};

mod row;
mod symbols;
use row::FactRow;
pub use symbols::Symbols;

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

/// Receives the cycles of a scan, one at a time.
pub trait FactSink {
    fn fact(&mut self, c: &CycleFact);
}

/// No sink: a scan whose caller needs only the other one.
impl FactSink for () {
    fn fact(&mut self, _: &CycleFact) {}
}

/// Two sinks fed by one scan.
impl<A: FactSink, B: FactSink> FactSink for (A, B) {
    fn fact(&mut self, c: &CycleFact) {
        self.0.fact(c);
        self.1.fact(c);
    }
}

/// A sink a request may not need.
impl<S: FactSink> FactSink for Option<S> {
    fn fact(&mut self, c: &CycleFact) {
        if let Some(s) = self {
            s.fact(c);
        }
    }
}

/// The columns of a [`FactRow`], over `lead_cycles c`.
macro_rules! fact_select {
    () => {
        "SELECT c.lead_id, c.routed_at, c.source, c.campaign, c.channel, c.lead_type, c.queue, c.owner, \
           c.outcome, COALESCE(c.accepted_within_sla, false) AS accepted_within_sla, \
           c.breached, c.recycled_at IS NOT NULL AS recycled, \
           (c.recycled_at IS NOT NULL AND EXISTS (SELECT 1 FROM lead_cycles n \
              WHERE n.lead_id = c.lead_id AND n.cycle > c.cycle)) AS rerouted, \
           (c.recycled_at IS NOT NULL AND EXISTS (SELECT 1 FROM lead_cycles n \
              WHERE n.lead_id = c.lead_id AND n.cycle > c.cycle AND n.outcome = 'accepted')) \
              AS accepted_later, \
           c.rejection_code, c.recycle_reason, c.decided_at, c.sla_due_at, c.first_touch_due_at, c.first_touched_at, \
           c.account_id::text AS account_id, c.decided_by_rule, c.features, \
           o.kinds, o.ats, o.amounts, o.currencies "
    };
}

/// The outcomes of each cycle `c` as parallel arrays (NULL when it has none), in the order
/// they were stored.
macro_rules! outcomes_join {
    () => {
        " LEFT JOIN LATERAL (SELECT array_agg(o.kind ORDER BY o.id) AS kinds, \
             array_agg(o.at ORDER BY o.id) AS ats, \
             array_agg(o.amount::float8 ORDER BY o.id) AS amounts, \
             array_agg(o.currency ORDER BY o.id) AS currencies \
           FROM lead_outcomes o WHERE o.lead_id = c.lead_id AND o.cycle = c.cycle) o ON true"
    };
}

const REPEATABLE_READ: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
const READ_SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
const TRY_COMPACTOR_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";
const TAKE_MARKS: &str = "DELETE FROM cycle_hour_marks WHERE hour IN ( \
           SELECT DISTINCT hour FROM cycle_hour_marks \
           WHERE hour < date_trunc('hour', $1::timestamptz, 'UTC') ORDER BY hour LIMIT $2) \
         RETURNING hour";
const FACTS_OF_HOURS: &str = concat!(
    fact_select!(),
    "FROM unnest($1::timestamptz[]) AS h(hour) JOIN lead_cycles c \
       ON c.routed_at >= h.hour AND c.routed_at < h.hour + interval '1 hour'",
    outcomes_join!()
);
// Only names not stored yet: `ON CONFLICT DO NOTHING` alone would use up an identity value per
// name on every rebuild, and ids index vectors when reports count (they must stay dense).
const ADD_SYMBOLS: &str = "INSERT INTO report_symbols (value) \
         SELECT DISTINCT v FROM unnest($1::text[]) AS v \
         WHERE NOT EXISTS (SELECT 1 FROM report_symbols s WHERE s.value = v) \
         ON CONFLICT (value) DO NOTHING";
const SYMBOLS_OF: &str = "SELECT id, value FROM report_symbols WHERE value = ANY($1)";
const SAVE_BLOCKS: &str = "INSERT INTO cycle_blocks (hour, format, cycles, data, features, \
           compacted_at) \
         SELECT b.hour, $2, b.cycles, b.data, b.features, $6 \
         FROM unnest($1::timestamptz[], $3::int4[], $4::bytea[], $5::bytea[]) \
           AS b(hour, cycles, data, features) \
         ON CONFLICT (hour) DO UPDATE SET format = EXCLUDED.format, cycles = EXCLUDED.cycles, \
           data = EXCLUDED.data, features = EXCLUDED.features, \
           compacted_at = EXCLUDED.compacted_at";
const ALL_SYMBOLS: &str = "SELECT id, value FROM report_symbols";
// The features column only when asked: the other reports never read it.
const CLEAN_BLOCKS: &str = "SELECT b.hour, b.data, CASE WHEN $4 THEN b.features END \
         FROM cycle_blocks b \
         WHERE b.hour >= $1 AND b.hour < $2 AND b.format = $3 \
           AND NOT EXISTS (SELECT 1 FROM cycle_hour_marks m WHERE m.hour = b.hour) \
         ORDER BY b.hour";
const RAW_FACTS: &str = concat!(
    fact_select!(),
    "FROM unnest($1::timestamptz[], $2::timestamptz[]) AS g(start, stop) JOIN lead_cycles c \
       ON c.routed_at >= g.start AND c.routed_at < g.stop",
    outcomes_join!()
);

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
        let rows: Vec<FactRow> = sqlx::query_as(FACTS_OF_HOURS)
            .bind(&hours)
            .fetch_all(&mut *tx)
            .await?;
        let names = symbols::names_of(&rows);
        sqlx::query(ADD_SYMBOLS)
            .bind(&names)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<(i32, String)> = sqlx::query_as(SYMBOLS_OF)
            .bind(&names)
            .fetch_all(&mut *tx)
            .await?;
        let mut syms = Symbols::from_rows(ids);
        let packed = pack(&hours, rows, &mut syms)?;
        sqlx::query(SAVE_BLOCKS)
            .bind(&hours)
            .bind(FORMAT)
            .bind(&packed.counts)
            .bind(&packed.data)
            .bind(&packed.features)
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

/// The blocks of a compaction, one per hour, as `SAVE_BLOCKS` binds them.
struct Packed {
    counts: Vec<i32>,
    data: Vec<Vec<u8>>,
    features: Vec<Vec<u8>>,
}

/// One block per hour of `hours` (ascending, distinct), empty ones too: an hour whose cycles
/// are all known is clean.
fn pack(
    hours: &[DateTime<Utc>],
    rows: Vec<FactRow>,
    syms: &mut Symbols,
) -> Result<Packed, sqlx::Error> {
    let mut per_hour: Vec<Vec<CycleFact>> = vec![Vec::new(); hours.len()];
    for row in rows {
        let mut fact = row.into_fact(syms, true)?;
        // Only the past-due list names leads, and only open cycles can be past due.
        if fact.outcome != Outcome::Open {
            fact.lead_id = None;
        }
        let hour = fact.routed_at.div_euclid(HOUR_US) * HOUR_US;
        let i = hours
            .binary_search_by_key(&hour, DateTime::timestamp_micros)
            .map_err(|_| decode_error(BlockError::OutsideHour))?;
        per_hour[i].push(fact);
    }
    let mut out = Packed {
        counts: Vec::with_capacity(hours.len()),
        data: Vec::with_capacity(hours.len()),
        features: Vec::with_capacity(hours.len()),
    };
    for (hour, facts) in hours.iter().zip(&mut per_hour) {
        let count = i32::try_from(facts.len()).map_err(|_| decode_error(BlockError::Overflow))?;
        let (data, features) =
            encode_block(hour.timestamp_micros(), facts).map_err(decode_error)?;
        out.counts.push(count);
        out.data.push(data);
        out.features.push(features);
    }
    Ok(out)
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

/// `[from, to)` less the hours of `clean` (ascending, each inside it), as ranges.
pub fn gaps(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    clean: &[DateTime<Utc>],
) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    let (mut starts, mut stops) = (Vec::new(), Vec::new());
    let mut cursor = from;
    for &hour in clean {
        if cursor < hour {
            starts.push(cursor);
            stops.push(hour);
        }
        cursor = hour + Duration::hours(1);
    }
    if cursor < to {
        starts.push(cursor);
        stops.push(to);
    }
    (starts, stops)
}

/// Hands every cycle routed in `[from, to)` to the sink `make` builds (after it has interned
/// what it needs, such as filter values): each clean hour from its block, everything else
/// from `lead_cycles`, all in one read-only snapshot. With `features`, each cycle carries its
/// feature entries. Returns the sink and the symbols its cycles refer to.
pub async fn scan<S: FactSink>(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    features: bool,
    make: impl FnOnce(&mut Symbols) -> S,
) -> Result<(S, Symbols), sqlx::Error> {
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    sqlx::query(READ_SNAPSHOT).execute(&mut *tx).await?;
    let rows: Vec<(i32, String)> = sqlx::query_as(ALL_SYMBOLS).fetch_all(&mut *tx).await?;
    let mut syms = Symbols::from_rows(rows);
    // Blocks only name symbols stored when they were written: those read just now.
    let stored = syms.len();
    let mut sink = make(&mut syms);
    let (mut clean, mut bytes, mut raw_cycles) = (Vec::new(), 0usize, 0usize);
    if let Some((first, last)) = whole_hours(from, to) {
        type Block = (DateTime<Utc>, Vec<u8>, Option<Vec<u8>>);
        let mut blocks = sqlx::query_as::<_, Block>(CLEAN_BLOCKS)
            .bind(first)
            .bind(last)
            .bind(FORMAT)
            .bind(features)
            .fetch(&mut *tx);
        while let Some((hour, data, feats)) = blocks.try_next().await? {
            bytes += data.len() + feats.as_ref().map_or(0, Vec::len);
            let mut unknown = false;
            let feats = if features {
                Some(
                    feats
                        .as_deref()
                        .ok_or_else(|| decode_error(BlockError::Truncated))?,
                )
            } else {
                None
            };
            decode_block(hour.timestamp_micros(), &data, feats, |c| {
                unknown |= !Symbols::all_below(c, stored);
                sink.fact(c);
            })
            .map_err(decode_error)?;
            if unknown {
                return Err(decode_error(BlockError::Overflow));
            }
            clean.push(hour);
        }
    }
    let (starts, stops) = gaps(from, to, &clean);
    let mut raw = sqlx::query_as::<_, FactRow>(RAW_FACTS)
        .bind(&starts)
        .bind(&stops)
        .fetch(&mut *tx);
    while let Some(row) = raw.try_next().await? {
        sink.fact(&row.into_fact(&mut syms, features)?);
        raw_cycles += 1;
    }
    drop(raw);
    tx.commit().await?;
    tracing::debug!(
        blocks = clean.len(),
        bytes,
        raw_cycles,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "report scan"
    );
    Ok((sink, syms))
}

fn decode_error(e: BlockError) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

statements!(
    REPEATABLE_READ,
    READ_SNAPSHOT,
    TRY_COMPACTOR_LOCK,
    TAKE_MARKS,
    FACTS_OF_HOURS,
    ADD_SYMBOLS,
    SYMBOLS_OF,
    SAVE_BLOCKS,
    ALL_SYMBOLS,
    CLEAN_BLOCKS,
    RAW_FACTS
);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn gaps_are_the_period_less_its_clean_hours() {
        let (from, to) = (t("2026-03-01T09:30:00Z"), t("2026-03-01T14:10:00Z"));
        let clean = [
            t("2026-03-01T10:00:00Z"),
            t("2026-03-01T11:00:00Z"),
            t("2026-03-01T13:00:00Z"),
        ];
        let (starts, stops) = gaps(from, to, &clean);
        assert_eq!(
            starts,
            [from, t("2026-03-01T12:00:00Z"), t("2026-03-01T14:00:00Z")]
        );
        assert_eq!(stops, [clean[0], clean[2], to]);
        assert_eq!(gaps(from, to, &[]), (vec![from], vec![to]));
    }
}
