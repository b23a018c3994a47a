//! Monthly partitions (see the `monthly_partitions` migration): created ahead by the partition
//! job, and expired outbox months dropped by retention. The SQL functions hold the DDL (a
//! partition's name is an identifier, which cannot be a bind parameter); these are their only
//! callers.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

/// A partition `ensure` did not find: created, or why not.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Ensured {
    /// The partitioned table.
    pub parent: String,
    /// The first instant of the partition's UTC month.
    pub month: DateTime<Utc>,
    /// `created`; `default_holds_rows` (rows of that month already sit in the DEFAULT
    /// partition, where they stay: nothing fails, that month is simply not split out);
    /// `busy` (a lock was not granted within 2 s; the next pass tries again).
    pub outcome: String,
}

impl Ensured {
    pub fn created(&self) -> bool {
        self.outcome == "created"
    }
}

/// The outbox tables whose months retention drops (the history log is never dropped).
pub const DROPPED_BY_MONTH: [&str; 2] = ["webhook_deliveries", "notifications"];

const ENSURE: &str = "SELECT parent, month, outcome FROM salgate_ensure_partitions($1, $2)";
const DROP_EXPIRED: &str = "SELECT salgate_drop_expired_partitions($1::regclass, $2, $3)";

/// Makes sure every partitioned table has the partitions of the month of `now` and the
/// `ahead` months after it. Idempotent, and serialised across replicas (an advisory lock).
pub async fn ensure(
    pool: &PgPool,
    now: DateTime<Utc>,
    ahead: i32,
) -> Result<Vec<Ensured>, sqlx::Error> {
    sqlx::query_as(ENSURE)
        .bind(now)
        .bind(ahead)
        .fetch_all(pool)
        .await
}

/// Detaches and drops the monthly partitions of `table` (one of [`DROPPED_BY_MONTH`]) that
/// hold only rows the row purges would delete at these cutoffs; returns their names.
pub async fn drop_expired(
    pool: &PgPool,
    table: &str,
    sent_before: DateTime<Utc>,
    dead_before: DateTime<Utc>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(DROP_EXPIRED)
        .bind(table)
        .bind(sent_before)
        .bind(dead_before)
        .fetch_all(pool)
        .await
}

statements!(ENSURE, DROP_EXPIRED);
