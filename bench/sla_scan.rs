//! SLA scanner benchmark (docs/api.md §9): 1,000,000 open leads of which 10,000 come due.
//! Measures the time to flag all due leads, and the time of a scan with nothing due.
//!
//! Run: `cargo bench --bench sla_scan` (env `SLA_BENCH_OPEN` / `SLA_BENCH_DUE` to resize).
//! It starts its own throwaway PostgreSQL cluster (fsync off; the scan commits once per
//! batch of 1,000, so durability settings barely matter here).

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Duration, Utc};
use salgate::{
    clock::ManualClock,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
    },
    jobs::sla_scanner::SlaScanner,
};
use tokio_util::sync::CancellationToken;

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
    let open = env_n("SLA_BENCH_OPEN", 1_000_000);
    let due = env_n("SLA_BENCH_DUE", 10_000);
    let dir = std::env::temp_dir().join(format!("salgate-sla-bench-{}", std::process::id()));
    let pg = tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start(EmbeddedOptions {
            dir,
            ephemeral: true,
            database: "bench".into(),
            max_connections: 20,
            port: None,
        })
    })
    .await??;
    let pool = db::connect(&pg.database_url(), 4).await?;
    db::migrate(&pool).await?;

    let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse()?;
    let started = Instant::now();
    // Open leads due tomorrow, inserted in chunks; then the ones due now.
    let chunk = 100_000;
    let mut inserted = 0;
    while inserted < open - due {
        let n = chunk.min(open - due - inserted);
        insert(&pool, inserted, n, now + Duration::days(1)).await?;
        inserted += n;
    }
    insert(&pool, inserted, due, now - Duration::minutes(1)).await?;
    sqlx::query("VACUUM ANALYZE leads").execute(&pool).await?;
    println!(
        "setup: {open} open leads ({due} due) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM leads WHERE sla_next_check_at <= $1 \
         ORDER BY sla_next_check_at LIMIT 1000 FOR UPDATE SKIP LOCKED",
    )
    .bind(now - Duration::hours(2))
    .fetch_all(&pool)
    .await?;
    println!("claim plan with nothing due:\n  {}", plan.join("\n  "));

    let clock = ManualClock::new(now - Duration::hours(2));
    let scanner = SlaScanner::new(pool.clone(), Arc::new(clock.clone()));
    // A scan with nothing due, repeated.
    let mut idle = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let o = scanner.run_once().await?;
        idle.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(o.counts.leads, 0);
    }
    idle.sort_by(f64::total_cmp);

    clock.set(now);
    let t = Instant::now();
    let totals = scanner.drain(&CancellationToken::new()).await?;
    let flag_all = t.elapsed().as_secs_f64();
    assert_eq!(totals.breached, due, "every due lead breached once");

    println!();
    println!("| what | measured | bar (docs/api.md §9) |");
    println!("| --- | --- | --- |");
    println!(
        "| flag {due} due leads among {open} open (at_risk + breached: {} events) | {:.2} s ({:.0} leads/s) | within one scan interval (default 15 s) |",
        totals.at_risk + totals.breached,
        flag_all,
        due as f64 / flag_all
    );
    println!(
        "| scan with nothing due (200 runs) | p50 {:.2} ms, p99 {:.2} ms | < 5 ms |",
        percentile(&idle, 0.5),
        percentile(&idle, 0.99)
    );
    pool.close().await;
    tokio::task::spawn_blocking(move || pg.stop()).await??;
    Ok(())
}

async fn insert(
    pool: &sqlx::PgPool,
    from: i64,
    n: i64,
    due: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO leads (id, source, external_id, lead_type, owner, queue, state, cycle, \
           routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at) \
         SELECT gen_random_uuid(), 'bench', 'b-' || i, 'demo_request', 'rep-' || (i % 50), 'emea', \
           'routed', 1, $1 - interval '1 hour', $1, $1, 'demo_request', $1, $1 - interval '15 minutes' \
         FROM generate_series($2::bigint + 1, $2::bigint + $3::bigint) AS i",
    )
    .bind(due)
    .bind(from)
    .bind(n)
    .execute(pool)
    .await?;
    Ok(())
}
