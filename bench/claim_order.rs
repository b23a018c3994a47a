//! Claim latency by claim order (docs/api.md §4): a `likely_accepted` claim reads the 500 most
//! urgent unassigned leads and ranks them with the served model before it locks one; a `due`
//! claim locks the earliest due in one statement. This measures what the ranking costs.
//!
//! Run: `cargo bench --bench claim_order` (env `CLAIM_BENCH_CLAIMS`, default 500 per queue).
//! Starts a throwaway PostgreSQL cluster (fsync on) and the real service; plants 2,000
//! decided leads (title function `sales` mostly accepted, `hr` mostly rejected) and trains the
//! model on them; then fills two claim queues, one per order, with `claims + 1,000` waiting
//! leads each, so every ranked claim ranks the full 500, and claims `claims` from each, one
//! at a time, alternating the queues so the machine's drift falls on both alike.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use salgate::{
    clock::SystemClock,
    db,
    domain::Role,
    jobs::model_trainer::ModelTrainer,
    service::model::{ModelCache, Trained},
    startup::Application,
};
use serde_json::{json, Value};

mod cluster;
use cluster::Cluster;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn lead(ext: String, sales: bool, queue: Option<&str>) -> Value {
    let title = if sales { "VP Sales" } else { "HR Generalist" };
    let mut body = json!({"source": "bench", "external_id": ext, "lead_type": "demo_request",
        "title": title, "company": {"name": "Acme", "size": 120}});
    match queue {
        Some(q) => body["queue"] = json!(q),
        None => body["owner"] = json!("planter"),
    }
    body
}

async fn batch(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    leads: Vec<Value>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in leads.chunks(1000) {
        let res: Value = client
            .post(format!("{base}/v1/leads/batch"))
            .bearer_auth(token)
            .json(&json!({ "leads": chunk }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("batch ingest")
            .json()
            .await
            .expect("batch answer");
        for r in res["results"].as_array().into_iter().flatten() {
            ids.push(r["id"].as_str().unwrap_or_default().to_string());
        }
    }
    ids
}

async fn put(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    path: &str,
    body: Value,
) -> reqwest::Result<()> {
    client
        .put(format!("{base}{path}"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await?
        .error_for_status()
        .map(|_| ())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let claims: usize = std::env::var("CLAIM_BENCH_CLAIMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let cluster = Cluster::start("claim", 60).await?;
    let mut settings = cluster.settings()?;
    settings.cache_ttl = Duration::ZERO;
    let mut model = settings.model;
    model.min_cycles = 500;
    let service = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (pool, base, shutdown, server, ingest, planter, claimer) = service
        .spawn(async move {
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            let pool = app.pool();
            let base = format!("http://127.0.0.1:{}", app.port());
            let shutdown = app.shutdown_token();
            let server = tokio::spawn(app.run_until_stopped());
            let now = chrono::Utc::now();
            let key = |role, rep: Option<&'static str>| {
                let pool = pool.clone();
                async move { db::api_keys::create(&pool, role, rep, "bench", now).await }
            };
            let ingest = key(Role::Ingest, None).await?.1;
            let planter = key(Role::Sdr, Some("planter")).await?.1;
            let claimer = key(Role::Sdr, Some("claimer")).await?.1;
            Ok::<_, anyhow::Error>((pool, base, shutdown, server, ingest, planter, claimer))
        })
        .await??;
    let client = reqwest::Client::new();
    let admin = service
        .spawn({
            let pool = pool.clone();
            async move {
                db::api_keys::create(&pool, Role::Admin, None, "bench", chrono::Utc::now()).await
            }
        })
        .await??
        .1;
    // The labelled history: 2,000 leads, decided as planted (deterministic: every fifth
    // goes against its title's usual fate).
    let planted: Vec<Value> = (0..2000)
        .map(|i| lead(format!("h-{i}"), i % 2 == 0, None))
        .collect();
    let ids = batch(&client, &base, &ingest, planted).await;
    for (i, id) in ids.iter().enumerate() {
        let accepted = (i % 2 == 0) != (i % 5 == 0);
        let (action, body) = match accepted {
            true => ("accept", json!({})),
            false => ("reject", json!({"code": "out_of_icp"})),
        };
        client
            .post(format!("{base}/v1/leads/{id}/{action}"))
            .bearer_auth(&planter)
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
    }
    let trainer = ModelTrainer::new(
        pool.clone(),
        Arc::new(SystemClock),
        model,
        Arc::new(ModelCache::new(Duration::ZERO)),
    );
    let trained = service
        .spawn(async move { trainer.run_once().await })
        .await??;
    anyhow::ensure!(
        matches!(trained, Trained::Stored { ready: true, .. }),
        "the model did not train: {trained:?}"
    );

    let waiting = claims + 1000;
    for (queue, order) in [("likely", "likely_accepted"), ("due", "due")] {
        let body = json!({"strategy": "claim", "claim_order": order});
        put(&client, &base, &admin, &format!("/v1/queues/{queue}"), body).await?;
        let leads = (0..waiting)
            .map(|i| lead(format!("{queue}-{i}"), i % 3 == 0, Some(queue)))
            .collect();
        batch(&client, &base, &ingest, leads).await;
    }
    let body = json!({"queues": ["likely", "due"]});
    put(&client, &base, &admin, "/v1/reps/claimer", body).await?;
    let vacuum = pool.clone();
    service
        .spawn(async move { sqlx::query("VACUUM ANALYZE leads").execute(&vacuum).await })
        .await??;

    let mut took: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut sales = [0usize; 2];
    for i in 0..claims * 2 {
        let q = i % 2;
        let started = Instant::now();
        let res = client
            .post(format!("{base}/v1/queues/{}/claim", ["likely", "due"][q]))
            .bearer_auth(&claimer)
            .send()
            .await?
            .error_for_status()?;
        let lead: Value = res.json().await?;
        took[q].push(started.elapsed().as_secs_f64() * 1000.0);
        sales[q] += usize::from(lead["title"] == "VP Sales");
    }
    println!(
        "claims per queue: {claims}, waiting at the start: {waiting} each, ranked per claim: 500"
    );
    for (q, name) in ["likely_accepted", "due"].iter().enumerate() {
        let t = &mut took[q];
        t.sort_by(f64::total_cmp);
        println!(
            "{name:>16}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; sales leads claimed {} of {claims}",
            percentile(t, 0.5),
            percentile(t, 0.9),
            percentile(t, 0.99),
            t[t.len() - 1],
            sales[q],
        );
    }
    println!(
        "ratio p50 likely_accepted / due: {:.2}",
        percentile(&took[0], 0.5) / percentile(&took[1], 0.5)
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
