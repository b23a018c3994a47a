//! Batch ingest benchmark (docs/api.md §9: batches of 1,000, bar ≥ 20,000 leads/s).
//!
//! Run: `cargo bench --bench batch_ingest` (env `BATCH_BENCH_BATCHES`, default 200;
//! `BATCH_BENCH_CLIENTS`, default 2 concurrent requests: more only contend for the two cores
//! here). Starts a throwaway PostgreSQL cluster
//! with the production durability settings (fsync on: each batch is one commit) and the real
//! service, then POSTs batches of 1,000 new leads (owners rep-1…rep-50, as a CRM sends them)
//! and counts stored leads. Every lead is judged (its account found, its duplicates looked up):
//! each is a person of its own (email and name), all at one company, so every lookup runs and
//! finds nothing. Leads that share a key cost more (bench/README.md has the figures).

use std::{sync::Arc, time::Instant};

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

fn batch(b: usize) -> Vec<u8> {
    let leads: Vec<Value> = (0..1000)
        .map(|i| {
            json!({
                "source": "bench", "external_id": format!("b{b}-{i}"), "lead_type": "demo_request",
                "email": format!("lead{b}-{i}@example.com"), "first_name": "Ada", "last_name": format!("Lovelace {b}-{i}"),
                "company": {"name": "Analytical Engines", "domain": "example.com", "size": 40},
                "campaign": "spring", "channel": "paid", "owner": format!("rep-{}", 1 + i % 50),
                "queue": "emea"
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "leads": leads })).expect("serializable")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let batches = env_n("BATCH_BENCH_BATCHES", 200);
    let clients = env_n("BATCH_BENCH_CLIENTS", 2);
    let cluster = Cluster::start("batch", 40).await?;
    let settings = cluster.settings()?;
    let app = Application::build(settings, Arc::new(SystemClock)).await?;
    let pool = app.pool();
    let url = format!("http://127.0.0.1:{}/v1/leads/batch", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let (_, token) =
        db::api_keys::create(&pool, Role::Ingest, None, "bench", chrono::Utc::now()).await?;
    let client = reqwest::Client::new();

    // Bodies are built before the clock starts; one warm-up batch registers the 50 owners.
    let bodies: Vec<Vec<u8>> = (0..=batches).map(batch).collect();
    let post = move |body: Vec<u8>| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let res = client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await?;
            anyhow::ensure!(res.status() == 200, "batch answered {}", res.status());
            let v: Value = res.json().await?;
            anyhow::ensure!(v["created"] == 1000, "batch created {}", v["created"]);
            Ok::<_, anyhow::Error>(())
        }
    };
    let mut bodies = bodies.into_iter();
    post(bodies.next().expect("warm-up body")).await?;

    let queue = Arc::new(tokio::sync::Mutex::new(bodies));
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let queue = queue.clone();
            let post = post.clone();
            tokio::spawn(async move {
                loop {
                    let Some(body) = queue.lock().await.next() else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    post(body).await?;
                }
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE source = 'bench'")
        .fetch_one(&pool)
        .await?;
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_history")
        .fetch_one(&pool)
        .await?;
    let expected = (batches as i64 + 1) * 1000;
    anyhow::ensure!(stored == expected, "stored {stored}, expected {expected}");
    anyhow::ensure!(
        history == expected,
        "history rows {history}, expected {expected}"
    );
    let rate = (batches * 1000) as f64 / secs;
    println!(
        "| batch ingest, {batches} batches of 1,000 over {clients} connections (fsync on) | {rate:.0} leads/s ({secs:.2} s) | ≥ 20,000 leads/s ({}) |",
        if rate >= 20_000.0 { "met" } else { "NOT met" }
    );
    shutdown.cancel();
    server.await??;
    pool.close().await;
    tokio::task::spawn_blocking(move || cluster.stop()).await??;
    Ok(())
}
