//! CRM write-back throughput (docs/crm.md): updates per second from the outbox to a local mock
//! of HubSpot's API, with batching (up to 100 contacts per batch update) and without (one
//! `PATCH` per contact).
//!
//! Run: `cargo bench --bench crm_writeback` (env `CRM_BENCH_LEADS`, default 5,000). A throwaway
//! PostgreSQL cluster (fsync on) and the real service: the leads (source `hubspot`) are ingested
//! in batches of 1,000, each writing one `routed` write-back; then one CRM writer drains them,
//! timed from its first claim to the last record's outcome. The mock answers at once, so the
//! figure is salgate's side: claims, one call per batch, one recorded outcome per record.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use axum::{routing::patch, routing::post, Json, Router};
use salgate::{
    clock::SystemClock,
    config::Settings,
    db::embedded::{EmbeddedOptions, EmbeddedPostgres, APP_ROLE},
    jobs::crm_writer::CrmWriter,
    startup::Application,
};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A HubSpot API that accepts every update at once; counts the records written.
async fn mock_hubspot() -> anyhow::Result<(String, Arc<AtomicUsize>)> {
    let written = Arc::new(AtomicUsize::new(0));
    let (a, b) = (written.clone(), written.clone());
    let app = Router::new()
        .route(
            "/crm/v3/objects/contacts/batch/update",
            post(move |Json(body): Json<Value>| {
                let n = body["inputs"].as_array().map_or(0, Vec::len);
                a.fetch_add(n, Ordering::Relaxed);
                async move { Json(json!({"status": "COMPLETE", "results": body["inputs"]})) }
            }),
        )
        .route(
            "/crm/v3/objects/contacts/{id}",
            patch(move |Json(body): Json<Value>| {
                b.fetch_add(1, Ordering::Relaxed);
                async move { Json(json!({"id": "1", "properties": body["properties"]})) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, written))
}

/// Updates per second with at most `batch` records per call.
async fn run(pg: &EmbeddedPostgres, name: &str, leads: usize, batch: usize) -> anyhow::Result<f64> {
    // The service's role may not create databases: the cluster's admin does, as start-up does.
    let mut conn = PgConnection::connect(&pg.admin_url_for("postgres")).await?;
    sqlx::query(&format!("CREATE DATABASE {name} OWNER {APP_ROLE}"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (api, written) = mock_hubspot().await?;
    let mut settings = Settings::load()?;
    settings.listen = "127.0.0.1:0".parse()?;
    settings.database_url = Some(pg.url_for(name));
    settings.rate_limit_per_second = 0.0;
    settings.webhook_allow_private_networks = true;
    settings.crm.hubspot_access_token = Some("pat-bench".into());
    settings.crm.hubspot_api_url = api;
    let targets = settings
        .crm
        .targets(salgate::outbound::Policy {
            allow_private: true,
        })
        .map_err(anyhow::Error::msg)?;
    let app = Application::build(settings, Arc::new(SystemClock))
        .await?
        .without_periodic_jobs();
    let pool = app.pool();
    let token = app.bootstrap_admin_token.clone().unwrap_or_default();
    let base = format!("http://127.0.0.1:{}", app.port());
    let shutdown = app.shutdown_token();
    let server = tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    for b in 0..leads.div_ceil(1000) {
        let items: Vec<Value> = (b * 1000..((b + 1) * 1000).min(leads))
            .map(|i| {
                json!({"source": "hubspot", "external_id": (100_000 + i).to_string(),
                            "lead_type": "demo_request", "owner": format!("rep-{}", i % 50)})
            })
            .collect();
        let res = client
            .post(format!("{base}/v1/leads/batch"))
            .bearer_auth(&token)
            .json(&json!({ "leads": items }))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "batch ingest: {}", res.status());
    }
    let writer = CrmWriter::new(pool, Arc::new(SystemClock), targets).with_batch(batch);
    let started = Instant::now();
    let step = writer.drain(&CancellationToken::new()).await?;
    let took = started.elapsed();
    anyhow::ensure!(
        written.load(Ordering::Relaxed) == leads && step.records() == leads as u64,
        "wrote {} of {leads}",
        written.load(Ordering::Relaxed)
    );
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    Ok(leads as f64 / took.as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let leads = env_n("CRM_BENCH_LEADS", 5_000);
    let dir = std::env::temp_dir().join(format!("salgate-crm-bench-{}", std::process::id()));
    let cluster_dir = dir.clone();
    let pg = tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start(EmbeddedOptions {
            dir,
            ephemeral: false,
            database: "bench".into(),
            max_connections: 60,
            port: None,
        })
    })
    .await??;
    let batched = run(&pg, "crm_batched", leads, 100).await?;
    let single = run(&pg, "crm_single", leads, 1).await?;
    println!("crm write-back, {leads} leads to a local HubSpot mock:");
    println!("  batched (100 per call): {batched:.0} updates/s");
    println!("  one PATCH per update:   {single:.0} updates/s");
    println!("  batching: {:.1}x", batched / single);
    match tokio::task::spawn_blocking(move || pg.stop()).await? {
        Ok(()) => std::fs::remove_dir_all(cluster_dir)?,
        Err(e) => eprintln!("{e}; {} is left behind", cluster_dir.display()),
    }
    Ok(())
}
