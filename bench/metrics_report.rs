//! Metrics benchmark (docs/api.md §9): 1,000,000 leads with 3,000,000 history rows over a year; the
//! 90-day acceptance report grouped by week over HTTP, p50 and p99 over repeated calls (bar:
//! p50 < 100 ms). The other reports are timed alongside for reference.
//!
//! Run: `cargo bench --bench metrics_report` (env `METRICS_BENCH_LEADS` to resize,
//! `METRICS_BENCH_CALLS` for the number of timed calls). It starts its own throwaway
//! PostgreSQL cluster; the data comes from `bench/metrics_data.sql` through the same
//! `lead_cycles` trigger as the service's writes.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use salgate::{
    clock::ManualClock,
    config::Settings,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
    },
    domain::Role,
    jobs::cycle_compactor::CycleCompactor,
    startup::Application,
};

fn env_n(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let leads = env_n("METRICS_BENCH_LEADS", 1_000_000);
    let calls = env_n("METRICS_BENCH_CALLS", 50) as usize;
    let dir = std::env::temp_dir().join(format!("salgate-metrics-bench-{}", std::process::id()));
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

    let now: DateTime<Utc> = "2026-11-23T00:00:00Z".parse()?;
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

    let mut settings = Settings::load()?;
    settings.listen = "127.0.0.1:0".parse()?;
    settings.database_url = Some(pg.database_url());
    settings.sla_scan_interval = std::time::Duration::from_secs(3600);
    let app = Application::build(settings, clock).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let (_, token) = db::api_keys::create(&pool, Role::Revops, None, "bench", now).await?;
    let client = reqwest::Client::new();

    let from = (now - Duration::days(90)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let reports = [
        ("acceptance", "group_by=week"),
        ("acceptance", "group_by=week&tz=America/New_York"),
        ("acceptance", "group_by=week&tz=Asia/Kolkata"),
        ("acceptance", "group_by=week&source=hubspot&channel=paid"),
        ("acceptance", "group_by=owner"),
        ("rejections", "group_by=week"),
        ("sla", "group_by=week"),
        ("recycling", "group_by=week"),
    ];
    println!();
    println!("| report (90 days, {leads} leads) | calls | p50 | p99 |");
    println!("| --- | --- | --- | --- |");
    let mut headline = None;
    for (report, query) in reports {
        let url = format!("{base}/v1/metrics/{report}?from={from}&to={to}&{query}");
        let mut times = Vec::with_capacity(calls);
        let mut body = serde_json::Value::Null;
        for i in 0..calls + 3 {
            let t = Instant::now();
            let res = client.get(&url).bearer_auth(&token).send().await?;
            anyhow::ensure!(res.status() == 200, "{url}: {}", res.status());
            body = res.json().await?;
            // The first calls warm the caches and are not counted.
            if i >= 3 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        println!("| {report}?{query} | {calls} | {p50:.1} ms | {p99:.1} ms |");
        if headline.is_none() {
            headline = Some((p50, p99, body));
        }
    }
    let (p50, p99, body) = headline.expect("the first report ran");
    println!();
    println!(
        "acceptance, 90 days by week: routed {}, acceptance_rate {}, band {}",
        body["total"]["routed"], body["total"]["acceptance_rate"], body["total"]["band"]
    );
    println!(
        "| acceptance report, {leads} leads, 90 days grouped by week | p50 {p50:.1} ms, p99 {p99:.1} ms | p50 < 100 ms ({}) |",
        if p50 < 100.0 { "met" } else { "NOT met" }
    );
    shutdown.cancel();
    server.await??;
    pool.close().await;
    tokio::task::spawn_blocking(move || pg.stop()).await??;
    Ok(())
}
