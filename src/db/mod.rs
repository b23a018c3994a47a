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

/// True when `err` is a violation of the named constraint.
pub fn is_constraint(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}
