//! Persistence: one module per table family. Queries run here; constraint violations are
//! mapped to domain errors where the query runs.

pub mod api_keys;
pub mod cycle_hours;
pub mod embedded;
pub mod history;
pub mod idempotency;
pub mod leads;
pub mod metrics;
pub mod reason_codes;
pub mod routing;
pub mod sla;
pub mod webhooks;

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool,
};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects lazily-checked: the pool is created and one connection is tried, so a wrong URL
/// fails start-up instead of the first request.
///
/// JIT is off for the service's sessions: its queries are short, and a report whose row
/// estimate is large would spend ~200 ms compiling before it runs for a few.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

/// True when `err` says the database cannot be reached or is going away (refused or dropped
/// connections, no connection within the acquire timeout, an administrator shutdown, too many
/// connections), not that the statement was wrong: the same request can succeed when retried.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Class 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect
        // now; 53300: too many connections.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
        _ => false,
    }
}

/// True when `err` is a violation of the named constraint.
pub fn is_constraint(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}
