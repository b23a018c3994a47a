//! The metrics data set shared by `metrics_report` and `dashboard_page`: a throwaway
//! PostgreSQL cluster loaded from `bench/metrics_data.sql` (`METRICS_BENCH_LEADS` leads, 1 M by
//! default, three history rows each, over the year before `NOW`), compacted once, and the
//! service started on it with a manual clock at `NOW`.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use salgate::{
    clock::ManualClock,
    config::Settings,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
    },
    jobs::cycle_compactor::CycleCompactor,
    startup::Application,
};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The instant the data set ends at (and the service's clock reads).
pub const NOW: &str = "2026-11-23T00:00:00Z";

pub fn env_n(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The loaded data set with the service running on it.
pub struct Seeded {
    pub pg: EmbeddedPostgres,
    pub pool: PgPool,
    pub now: DateTime<Utc>,
    pub leads: i64,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    shutdown: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
}

/// What a benchmark adds to the loaded data before it is compacted.
pub type Prepare = for<'a> fn(
    &'a sqlx::PgPool,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = anyhow::Result<()>> + 'a>,
>;

/// Starts the cluster, loads and compacts the data, starts the service.
#[allow(dead_code)] // each benchmark binary uses one of the two
pub async fn seed(name: &str) -> anyhow::Result<Seeded> {
    seed_with(name, None).await
}

/// [`seed`], with `prepare` run on the loaded data before it is compacted (as if what it
/// writes had been written with the cycles).
pub async fn seed_with(name: &str, prepare: Option<Prepare>) -> anyhow::Result<Seeded> {
    let leads = env_n("METRICS_BENCH_LEADS", 1_000_000);
    let dir = std::env::temp_dir().join(format!("salgate-{name}-bench-{}", std::process::id()));
    let pg = tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start(EmbeddedOptions {
            dir,
            ephemeral: true,
            database: "bench".into(),
            max_connections: 40,
            port: None,
        })
    })
    .await??;
    let pool = db::connect(&pg.database_url(), 4).await?;
    db::migrate(&pool).await?;

    let now: DateTime<Utc> = NOW.parse()?;
    // A live system's partition job has made each month's partitions ahead of it: the year's
    // rows go to their months, not to the DEFAULT partitions.
    db::partitions::ensure(&pool, now - chrono::Duration::days(366), 13).await?;
    let started = Instant::now();
    let template = include_str!("metrics_data.sql");
    let chunk = 100_000;
    let mut from = 0;
    while from < leads {
        let n = chunk.min(leads - from);
        let sql = template
            .replace("{FROM}", &from.to_string())
            .replace("{N}", &n.to_string())
            .replace("{TOTAL}", &leads.to_string())
            .replace("{NOW}", &now.to_rfc3339());
        sqlx::raw_sql(&sql).execute(&pool).await?;
        from += n;
    }
    for table in ["leads", "lead_history", "lead_cycles"] {
        sqlx::raw_sql(&format!("VACUUM ANALYZE {table}"))
            .execute(&pool)
            .await?;
    }
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_history")
        .fetch_one(&pool)
        .await?;
    let cycles: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_cycles")
        .fetch_one(&pool)
        .await?;
    println!(
        "setup: {leads} leads, {history} history rows, {cycles} cycles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(prepare) = prepare {
        prepare(&pool).await?;
    }
    // The service compacts changed hours every 10 s; here once, after the load.
    let t = Instant::now();
    let clock = Arc::new(ManualClock::new(now));
    let hours = CycleCompactor::new(pool.clone(), clock.clone())
        .drain(&Default::default())
        .await?;
    println!(
        "compacted {hours} hours in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (data, features, heap): (i64, i64, i64) = sqlx::query_as(
        "SELECT sum(octet_length(data))::int8, COALESCE(sum(octet_length(features)), 0)::int8, \
           (SELECT sum(pg_relation_size(inhrelid))::int8 FROM pg_inherits \
            WHERE inhparent = 'cycle_blocks'::regclass) FROM cycle_blocks",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "blocks: data {:.1} MB ({:.1} bytes per cycle), features {:.1} MB, heap {:.1} MB",
        data as f64 / 1e6,
        data as f64 / cycles as f64,
        features as f64 / 1e6,
        heap as f64 / 1e6
    );

    let mut settings = Settings::load()?;
    settings.listen = "127.0.0.1:0".parse()?;
    settings.database_url = Some(pg.database_url());
    settings.sla_scan_interval = std::time::Duration::from_secs(3600);
    let app = Application::build(settings, clock).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    Ok(Seeded {
        pg,
        pool,
        now,
        leads,
        base,
        shutdown,
        server,
    })
}

impl Seeded {
    /// Stops the service and the cluster.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.await??;
        self.pool.close().await;
        let pg = self.pg;
        tokio::task::spawn_blocking(move || pg.stop()).await??;
        Ok(())
    }
}
