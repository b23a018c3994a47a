//! Which pool a report or listing reads: the read replica (`DATABASE_READ_URL`) while its last
//! measured lag keeps the data within `SALGATE_READ_MAX_LAG` of now, else the primary; and
//! how fresh the data read is, which the reports carry (`freshness`). Writes and
//! read-your-own-write reads never come here: they use `Service::db` (docs/api.md §8).

use std::{future::Future, sync::Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{Error, Result};

/// The last measurement of the replica's lag (`jobs::replica_lag`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// Not measured yet.
    Unmeasured,
    /// The replica did not answer at `at`.
    Down { at: DateTime<Utc> },
    /// At `at` it was `lag` seconds behind (`None`: it could not say).
    Measured { at: DateTime<Utc>, lag: Option<f64> },
}

/// Where a read went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadSource {
    Primary,
    Replica,
}

/// Why a read that could have gone to the replica went to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Its lag has not been measured yet (just started).
    ReplicaUnmeasured,
    /// It did not answer the last measurement.
    ReplicaDown,
    /// Its data is older than `SALGATE_READ_MAX_LAG`.
    ReplicaBehind,
}

/// How fresh the data of a report is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Freshness {
    /// Which database the report read.
    pub source: ReadSource,
    /// Every change committed before this instant is in the report (the primary: the
    /// moment of the request; the replica: its last lag measurement minus that lag).
    pub as_of: DateTime<Utc>,
    /// `now - as_of`, in seconds.
    pub lag_seconds: f64,
    /// Set when a replica is configured but the primary was read instead, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

impl Freshness {
    /// A read of the primary at `now`.
    pub fn primary(now: DateTime<Utc>, fallback: Option<Fallback>) -> Freshness {
        Freshness {
            source: ReadSource::Primary,
            as_of: now,
            lag_seconds: 0.0,
            fallback,
        }
    }
}

/// The rule: the replica is read when the data it held at its last measurement is no older
/// than `max_lag` now; otherwise the primary is, saying why.
pub fn choose(reading: Reading, now: DateTime<Utc>, max_lag: chrono::Duration) -> Freshness {
    let (at, lag) = match reading {
        Reading::Unmeasured => return Freshness::primary(now, Some(Fallback::ReplicaUnmeasured)),
        Reading::Down { .. } => return Freshness::primary(now, Some(Fallback::ReplicaDown)),
        Reading::Measured { lag: None, .. } => {
            return Freshness::primary(now, Some(Fallback::ReplicaBehind))
        }
        Reading::Measured { at, lag: Some(lag) } => (at, lag),
    };
    let as_of = at - chrono::Duration::milliseconds((lag * 1000.0).round() as i64);
    let age = now - as_of;
    if age > max_lag {
        return Freshness::primary(now, Some(Fallback::ReplicaBehind));
    }
    Freshness {
        source: ReadSource::Replica,
        as_of,
        lag_seconds: age.num_milliseconds().max(0) as f64 / 1000.0,
        fallback: None,
    }
}

/// The replica's pool and its last lag measurement.
pub struct ReadReplica {
    pub pool: PgPool,
    pub max_lag: chrono::Duration,
    last: Mutex<Reading>,
}

impl ReadReplica {
    pub fn new(pool: PgPool, max_lag: std::time::Duration) -> ReadReplica {
        ReadReplica {
            pool,
            max_lag: chrono::Duration::from_std(max_lag).unwrap_or(chrono::Duration::MAX),
            last: Mutex::new(Reading::Unmeasured),
        }
    }

    pub fn reading(&self) -> Reading {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, reading: Reading) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = reading;
    }
}

/// The pool a report reads and how fresh its data is.
pub struct ReadPool<'a> {
    pub pool: &'a PgPool,
    pub freshness: Freshness,
}

impl super::Service {
    /// The pool for reports and listings at the clock's now (see the module doc).
    pub fn read_pool(&self) -> ReadPool<'_> {
        let now = self.clock.now();
        let Some(replica) = &self.replica else {
            return ReadPool {
                pool: &self.db,
                freshness: Freshness::primary(now, None),
            };
        };
        let freshness = choose(replica.reading(), now, replica.max_lag);
        let pool = match freshness.source {
            ReadSource::Replica => &replica.pool,
            ReadSource::Primary => &self.db,
        };
        ReadPool { pool, freshness }
    }

    /// Runs `query` on [`Service::read_pool`]'s pool; when that is the replica and it turns
    /// out unreachable, records it down (so the next reads go straight to the primary) and
    /// runs `query` on the primary. `query` gets a handle of the pool (a cheap clone).
    pub async fn read<T, F, Fut>(&self, query: F) -> Result<(T, Freshness)>
    where
        F: Fn(PgPool) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let read = self.read_pool();
        let replica = match (&self.replica, read.freshness.source) {
            (Some(replica), ReadSource::Replica) => replica,
            _ => return Ok((query(read.pool.clone()).await?, read.freshness)),
        };
        match query(replica.pool.clone()).await {
            Err(Error::Unavailable(_)) => {
                let now = self.clock.now();
                replica.record(Reading::Down { at: now });
                let fresh = Freshness::primary(now, Some(Fallback::ReplicaDown));
                Ok((query(self.db.clone()).await?, fresh))
            }
            outcome => Ok((outcome?, read.freshness)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn the_replica_is_read_while_its_data_is_within_the_limit() {
        let max = Duration::seconds(30);
        let reading = Reading::Measured {
            at: t(0),
            lag: Some(5.0),
        };
        let f = choose(reading, t(10), max);
        assert_eq!(
            (f.source, f.as_of, f.lag_seconds),
            (ReadSource::Replica, t(-5), 15.0)
        );
        assert_eq!(f.fallback, None);
        // The same measurement grows old: 35 s after the data it described, the primary.
        let f = choose(reading, t(30), max);
        assert_eq!((f.source, f.as_of), (ReadSource::Primary, t(30)));
        assert_eq!(f.fallback, Some(Fallback::ReplicaBehind));
        assert_eq!(choose(reading, t(25), max).source, ReadSource::Replica);
    }

    #[test]
    fn a_replica_down_unmeasured_or_unsure_is_not_read() {
        let max = Duration::seconds(30);
        for (reading, why) in [
            (Reading::Unmeasured, Fallback::ReplicaUnmeasured),
            (Reading::Down { at: t(0) }, Fallback::ReplicaDown),
            (
                Reading::Measured {
                    at: t(0),
                    lag: None,
                },
                Fallback::ReplicaBehind,
            ),
            (
                Reading::Measured {
                    at: t(0),
                    lag: Some(31.0),
                },
                Fallback::ReplicaBehind,
            ),
        ] {
            let f = choose(reading, t(0), max);
            assert_eq!(f, Freshness::primary(t(0), Some(why)), "{reading:?}");
        }
    }
}
