//! Measuring how far a streaming replica is behind its primary (`jobs::replica_lag`).
//!
//! The replay timestamp alone (`now() - pg_last_xact_replay_timestamp()`) grows while the
//! primary is idle, though the replica then has everything: so the primary's WAL position is
//! read first, and a replica that has replayed up to it is caught up (lag 0 as of that
//! moment). Only a replica that has not is behind by the age of the last transaction it
//! replayed.

use sqlx::PgPool;

/// On the primary: how far its WAL has been written.
pub const PRIMARY_WAL: &str = "SELECT pg_current_wal_lsn()::text";

/// On the replica: whether it is a standby at all, whether it has replayed up to `$1` (an
/// LSN), and how old its last replayed transaction is, in seconds.
pub const REPLAY: &str = "SELECT pg_is_in_recovery(), \
     pg_last_wal_replay_lsn() >= $1::text::pg_lsn, \
     EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8";

statements!(PRIMARY_WAL, REPLAY);

/// Which side of a lag measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum LagError {
    #[error("the primary: {0}")]
    Primary(sqlx::Error),
    #[error("the replica: {0}")]
    Replica(sqlx::Error),
}

/// How far behind the replica is, in seconds; `None` when it cannot say (a standby that has
/// replayed no transaction since it started and is not caught up).
pub async fn lag_seconds(primary: &PgPool, replica: &PgPool) -> Result<Option<f64>, LagError> {
    let written: String = sqlx::query_scalar(PRIMARY_WAL)
        .fetch_one(primary)
        .await
        .map_err(LagError::Primary)?;
    let (standby, caught_up, behind): (bool, Option<bool>, Option<f64>) = sqlx::query_as(REPLAY)
        .bind(&written)
        .fetch_one(replica)
        .await
        .map_err(LagError::Replica)?;
    Ok(match (standby, caught_up) {
        // A primary (or a promoted replica) has all it commits.
        (false, _) | (true, Some(true)) => Some(0.0),
        _ => behind.map(|s| s.max(0.0)),
    })
}
