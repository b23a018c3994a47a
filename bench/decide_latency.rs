//! Accept/reject latency at a fixed rate (docs/api.md §9: p99 < 20 ms at 1,000 req/s).
//!
//! Run: `cargo bench --bench decide_latency` (env `DECIDE_BENCH_RATE`, default 1000 req/s;
//! `DECIDE_BENCH_SECONDS`, default 10). Starts a throwaway PostgreSQL cluster with production
//! durability (fsync on) and the real service, ingests the leads first (batch), then sends one
//! decision per lead on an open-loop schedule (every 1/rate s, whether or not earlier answers
//! came back), half accepts and half rejects, each by the owning rep's SDR key. Latency is
//! measured from the scheduled send time, so a stall is not hidden (no coordinated omission).
//!
//! The first second (`DECIDE_BENCH_WARMUP_SECONDS`, default 1) is a warm-up on leads of its
//! own, at the same rate and without a pause before the measured part: a fresh process opens
//! its database connections and each new PostgreSQL backend loads its caches and compiles the
//! trigger functions on first use. Its p99 is printed separately, not hidden.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use salgate::{clock::SystemClock, db, domain::Role, startup::Application};
use serde_json::{json, Value};

mod cluster;
use cluster::Cluster;

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

const REPS: usize = 50;

/// The load generator runs on a one-thread runtime of its own, the service on another runtime
/// (as in production, where it has the machine's cores): the client's own work does not queue
/// behind the service's tasks.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let rate = env_n("DECIDE_BENCH_RATE", 1000);
    let seconds = env_n("DECIDE_BENCH_SECONDS", 10);
    let warmup = rate * env_n("DECIDE_BENCH_WARMUP_SECONDS", 1);
    let measured = rate * seconds;
    let total = warmup + measured;
    let cluster = Cluster::start("decide", 60).await?;
    let settings = cluster.settings()?;
    let service = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (pool, base, shutdown, server, ingest, sdr) = service
        .spawn(async move {
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            let pool = app.pool();
            let base = format!("http://127.0.0.1:{}", app.port());
            let shutdown = app.shutdown_token();
            let server = tokio::spawn(app.run_until_stopped());
            let now = chrono::Utc::now();
            let (_, ingest) = db::api_keys::create(&pool, Role::Ingest, None, "bench", now).await?;
            let mut sdr = Vec::with_capacity(REPS);
            for r in 0..REPS {
                let rep = format!("rep-{r}");
                sdr.push(
                    db::api_keys::create(&pool, Role::Sdr, Some(&rep), "bench", now)
                        .await?
                        .1,
                );
            }
            Ok::<_, anyhow::Error>((pool, base, shutdown, server, ingest, sdr))
        })
        .await??;
    let client = reqwest::Client::new();

    // The leads to decide, ingested 1,000 at a time.
    let mut ids: Vec<(String, usize)> = Vec::with_capacity(total);
    for chunk in 0..total.div_ceil(1000) {
        let leads: Vec<Value> = (chunk * 1000..((chunk + 1) * 1000).min(total))
            .map(|i| {
                json!({"source": "bench", "external_id": format!("d-{i}"),
                       "lead_type": "demo_request", "owner": format!("rep-{}", i % REPS)})
            })
            .collect();
        let res: Value = client
            .post(format!("{base}/v1/leads/batch"))
            .bearer_auth(&ingest)
            .json(&json!({ "leads": leads }))
            .send()
            .await?
            .json()
            .await?;
        for r in res["results"].as_array().into_iter().flatten() {
            let i = ids.len();
            ids.push((r["id"].as_str().unwrap_or_default().to_string(), i % REPS));
        }
    }
    anyhow::ensure!(ids.len() == total, "ingested {} of {total}", ids.len());
    let vacuum = pool.clone();
    service
        .spawn(async move { sqlx::query("VACUUM ANALYZE leads").execute(&vacuum).await })
        .await??;

    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total);
    for (i, (id, rep)) in ids.into_iter().enumerate() {
        let scheduled = start + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, token) = (client.clone(), sdr[rep].clone());
        let (action, body) = if i % 2 == 0 {
            ("accept", json!({}))
        } else {
            ("reject", json!({"code": "out_of_icp"}))
        };
        let url = format!("{base}/v1/leads/{id}/{action}");
        tasks.push(tokio::spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&body).send().await;
            let ok = matches!(&res, Ok(r) if r.status() == 200);
            (scheduled.elapsed().as_secs_f64() * 1000.0, ok)
        }));
    }
    let sent_over = start.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(total);
    let mut failed = 0;
    for t in tasks {
        let (ms, ok) = t.await?;
        latencies.push(ms);
        failed += usize::from(!ok);
    }
    let mut warm: Vec<f64> = latencies.drain(..warmup).collect();
    warm.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
    println!(
        "sent {total} decisions over {sent_over:.2} s ({:.0} req/s offered), {failed} not 200",
        total as f64 / sent_over,
    );
    if !warm.is_empty() {
        println!(
            "warm-up ({warmup} decisions): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            percentile(&warm, 0.5),
            percentile(&warm, 0.99),
            warm.last().copied().unwrap_or(0.0)
        );
    }
    println!(
        "measured ({measured} decisions): max {:.1} ms",
        latencies.last().copied().unwrap_or(0.0)
    );
    println!(
        "| accept/reject at {rate} req/s for {seconds} s (fsync on) | p50 {p50:.1} ms, p99 {p99:.1} ms | p99 < 20 ms ({}) |",
        if p99 < 20.0 && failed == 0 { "met" } else { "NOT met" }
    );
    shutdown.cancel();
    server.await??;
    service.spawn(async move { pool.close().await }).await?;
    tokio::task::spawn_blocking(move || {
        drop(service);
        cluster.stop()
    })
    .await??;
    Ok(())
}
