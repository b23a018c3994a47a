//! Persistence: one module per table family. Queries run here; constraint violations are
//! mapped to domain errors where the query runs.
//!
//! Every static statement is a named `const` listed in its module's `STATEMENTS` (the
//! `statements!` macro), and [`statements`] walks them all: a test prepares each one against
//! the migrated database, so a renamed column fails `cargo test` naming the statement, and a
//! source scan fails when a `sqlx::query*` call takes anything but a registered const.

/// Declares the module's `STATEMENTS`: each named const with its path, e.g.
/// `salgate::db::leads::GET`.
macro_rules! statements {
    ($($name:ident),* $(,)?) => {
        /// This module's static statements, for the test that prepares each one.
        pub const STATEMENTS: &[$crate::db::Statement] = &[$($crate::db::Statement {
            name: concat!(module_path!(), "::", stringify!($name)),
            sql: $name,
        }),*];
    };
}

pub mod accounts;
pub mod api_keys;
pub mod campaigns;
pub mod crm;
pub mod cycle_blocks;
pub mod drivers;
pub mod embedded;
pub mod failover;
pub mod history;
pub mod idempotency;
pub mod inbound_signatures;
pub mod inbox;
pub mod integrations;
pub mod judge;
pub mod lane;
pub mod leads;
pub mod metrics;
pub mod model;
pub mod notifications;
pub mod outcomes;
pub mod partitions;
pub mod reason_codes;
pub mod replica;
pub mod retention;
pub mod routing;
pub mod rule_backtest;
pub mod rules;
pub mod sessions;
pub mod sla;
pub mod sla_status;
pub mod slack;
mod text_enum;
pub mod visibility;
pub mod webhook_dispatch;
pub mod webhooks;

use std::{str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgPool,
};

const PING: &str = "SELECT 1";

/// One round trip: whether the database answers (the readiness probe).
pub async fn ping(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query_scalar::<_, i32>(PING)
        .fetch_one(pool)
        .await
        .map(|_| ())
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pooled connection idle for longer than this is tested (one round trip) before it is handed
/// out. sqlx's default tests on every acquire, which for a one-statement request doubles the
/// round trips; a connection used this recently was working then (the pool also tests each one
/// it gets back), and if it broke since, the one statement run on it fails as unavailable (503,
/// `Retry-After`) and the connection is discarded.
pub const TEST_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Connects lazily-checked: the pool is created and one connection is tried, so a wrong URL
/// fails start-up instead of the first request.
///
/// JIT is off for the service's sessions: its queries are short, and a report whose row
/// estimate is large would spend ~200 ms compiling before it runs for a few.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    Ok(connect_following(url, max_connections).await?.0)
}

/// As [`connect`]; with several hosts in `url` (or `target_session_attrs=read-write`), also
/// the [`failover::Failover`] whose `watch` task keeps the pool on the primary.
pub async fn connect_following(
    url: &str,
    max_connections: u32,
) -> Result<(PgPool, Option<Arc<failover::Failover>>), sqlx::Error> {
    let target =
        failover::Target::parse(url).map_err(|why| sqlx::Error::Configuration(why.into()))?;
    let options = PgConnectOptions::from_str(&target.first_url)?.options([("jit", "off")]);
    if !target.read_write {
        return Ok((
            pool_options(max_connections, None)
                .connect_with(options)
                .await?,
            None,
        ));
    }
    let failover = Arc::new(failover::Failover::new(&target, &options));
    failover.find_primary(None).await?.close().await?;
    let pool = pool_options(max_connections, Some(failover.clone()))
        .connect_with(failover.current_options())
        .await?;
    Ok((pool, Some(failover)))
}

/// A pool that connects on first use (the read replica: one that is down at start-up does
/// not stop the service, whose reads then fall back to the primary).
pub fn connect_lazy(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
    Ok(pool_options(max_connections, None).connect_lazy_with(options))
}

/// The pool's limits and checks; with `failover`, new connections must be to a primary and
/// those opened before a switch of host are dropped.
fn pool_options(max_connections: u32, failover: Option<Arc<failover::Failover>>) -> PgPoolOptions {
    let checked = failover.clone();
    let options = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            let stale = checked
                .as_ref()
                .is_some_and(|f| f.predates_switch(meta.age));
            Box::pin(async move {
                if stale {
                    return Ok(false);
                }
                if meta.idle_for > TEST_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        });
    match failover {
        None => options,
        Some(_) => options.after_connect(|conn, _| Box::pin(failover::require_primary(conn))),
    }
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
        // now; 53300: too many connections; 25006: read-only transaction (a write reached a
        // server that is a standby now: the old primary after a failover).
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || c.starts_with("57P") || c == "53300" || c == "25006"
        }),
        _ => false,
    }
}

/// True when `err` is a violation of the named constraint.
pub fn is_constraint(err: &sqlx::Error, constraint: &str) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.constraint() == Some(constraint))
}

statements!(PING);

/// A static SQL statement and the path of the const that holds it.
#[derive(Debug, Clone, Copy)]
pub struct Statement {
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every module's static statements (see the module doc).
pub fn statements() -> impl Iterator<Item = &'static Statement> {
    [
        STATEMENTS,
        accounts::STATEMENTS,
        api_keys::STATEMENTS,
        crm::STATEMENTS,
        campaigns::STATEMENTS,
        cycle_blocks::STATEMENTS,
        failover::STATEMENTS,
        drivers::STATEMENTS,
        history::STATEMENTS,
        idempotency::STATEMENTS,
        inbox::STATEMENTS,
        inbound_signatures::STATEMENTS,
        integrations::STATEMENTS,
        judge::STATEMENTS,
        leads::STATEMENTS,
        leads::cycle::STATEMENTS,
        notifications::STATEMENTS,
        outcomes::STATEMENTS,
        partitions::STATEMENTS,
        leads::many::STATEMENTS,
        model::STATEMENTS,
        reason_codes::STATEMENTS,
        replica::STATEMENTS,
        retention::STATEMENTS,
        routing::STATEMENTS,
        routing::claim::STATEMENTS,
        routing::escalation::STATEMENTS,
        routing::pick::STATEMENTS,
        routing::sticky::STATEMENTS,
        routing::reps::STATEMENTS,
        rule_backtest::STATEMENTS,
        rules::STATEMENTS,
        sessions::STATEMENTS,
        slack::STATEMENTS,
        sla::STATEMENTS,
        sla_status::STATEMENTS,
        webhook_dispatch::STATEMENTS,
        webhooks::STATEMENTS,
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod registry_tests;
