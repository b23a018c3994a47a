//! SDR inbox page server time (issue 16: p50 < 30 ms with 10,000 open leads).
//!
//! Run: `cargo bench --bench inbox_page` (env `INBOX_BENCH_LEADS`, default 10,000;
//! `INBOX_BENCH_MINE`, default 2,000 of them owned by the signed-in rep; `INBOX_BENCH_QUEUED`,
//! default 500 unassigned in a queue of that rep; `INBOX_BENCH_REQUESTS`, default 300).
//! Starts a throwaway PostgreSQL cluster and the real service, ingests the leads through the
//! batch endpoint, signs in through the sign-in form with an SDR key, then requests `GET /app`
//! one after another with the session cookie and reports the round trip on loopback (the page
//! is rendered whole: three capped lists of 200 rows). The plan and time of the main query
//! (`db::inbox::MINE`) are printed for comparison.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use salgate::{
    clock::SystemClock,
    config::Settings,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
    },
    domain::Role,
    startup::Application,
};
use serde_json::{json, Value};

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

/// The client runs on this one-thread runtime, the service on a runtime of its own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let total = env_n("INBOX_BENCH_LEADS", 10_000);
    let mine = env_n("INBOX_BENCH_MINE", 2_000);
    let queued = env_n("INBOX_BENCH_QUEUED", 500);
    let requests = env_n("INBOX_BENCH_REQUESTS", 300);
    let dir = std::env::temp_dir().join(format!("salgate-inbox-bench-{}", std::process::id()));
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
    let mut settings = Settings::load()?;
    settings.listen = "127.0.0.1:0".parse()?;
    settings.database_url = Some(pg.database_url());
    settings.rate_limit_per_second = 0.0;
    let service = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (pool, base, shutdown, server, admin, ingest, sdr) = service
        .spawn(async move {
            let app = Application::build(settings, Arc::new(SystemClock)).await?;
            let pool = app.pool();
            let base = format!("http://127.0.0.1:{}", app.port());
            let admin = app.bootstrap_admin_token.clone().unwrap_or_default();
            let shutdown = app.shutdown_token();
            let server = tokio::spawn(app.run_until_stopped());
            let now = chrono::Utc::now();
            let (_, ingest) = db::api_keys::create(&pool, Role::Ingest, None, "bench", now).await?;
            let (_, sdr) =
                db::api_keys::create(&pool, Role::Sdr, Some("rep-1"), "bench", now).await?;
            Ok::<_, anyhow::Error>((pool, base, shutdown, server, admin, ingest, sdr))
        })
        .await??;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // rep-1 is a member of the claim queue `pool`.
    for (path, body) in [
        (
            "/v1/queues/pool",
            json!({"strategy": "claim", "name": "Pool"}),
        ),
        ("/v1/reps/rep-1", json!({"queues": ["pool"]})),
    ] {
        let res = client
            .put(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(res.status() == 200, "PUT {path}: {}", res.status());
    }

    // The leads: `mine` of rep-1, `queued` unassigned in `pool`, the rest spread over 49 other
    // reps; routed over the last hour with two policies, so due times differ.
    let started = Instant::now();
    let now = chrono::Utc::now();
    let mut ingested = 0;
    for chunk in 0..total.div_ceil(1000) {
        let leads: Vec<Value> = (chunk * 1000..((chunk + 1) * 1000).min(total))
            .map(|i| {
                let routed_at = now - chrono::Duration::seconds((i * 7 % 3600) as i64);
                let mut l = json!({"source": "bench", "external_id": format!("i-{i}"),
                    "lead_type": if i % 3 == 0 { "default" } else { "demo_request" },
                    "email": format!("lead{i}@example.com"), "first_name": "Ada",
                    "company": {"name": format!("Company {i}")},
                    "routed_at": routed_at.to_rfc3339()});
                if i < mine {
                    l["owner"] = json!("rep-1");
                } else if i < mine + queued {
                    l["queue"] = json!("pool");
                } else {
                    l["owner"] = json!(format!("rep-{}", 2 + i % (REPS - 1)));
                }
                l
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
        ingested += res["results"].as_array().map_or(0, |a| a.len());
    }
    anyhow::ensure!(ingested == total, "ingested {ingested} of {total}");
    let vacuum = pool.clone();
    service
        .spawn(async move { sqlx::query("VACUUM ANALYZE leads").execute(&vacuum).await })
        .await??;
    println!(
        "setup: {total} open routed leads ({mine} of rep-1, {queued} in rep-1's queue) in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Sign in as a person would: the sign-in form with its login CSRF cookie.
    let res = client
        .post(format!("{base}/app/login"))
        .header("cookie", "salgate_login=benchlogin")
        .form(&[("_csrf", "benchlogin"), ("api_key", &sdr), ("next", "/app")])
        .send()
        .await?;
    anyhow::ensure!(res.status() == 303, "sign-in: {}", res.status());
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("salgate_session="))
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?
        .to_string();

    let get = |client: reqwest::Client, url: String, cookie: String| async move {
        let t = Instant::now();
        let res = client.get(url).header("cookie", cookie).send().await?;
        let status = res.status();
        let body = res.bytes().await?;
        anyhow::ensure!(status == 200, "GET /app: {status}");
        Ok::<_, anyhow::Error>((t.elapsed().as_secs_f64() * 1000.0, body.len()))
    };
    // Warm-up: connections opened, caches and plans filled.
    for _ in 0..30 {
        get(client.clone(), format!("{base}/app"), cookie.clone()).await?;
    }
    let mut times = Vec::with_capacity(requests);
    let mut size = 0;
    for _ in 0..requests {
        let (ms, len) = get(client.clone(), format!("{base}/app"), cookie.clone()).await?;
        times.push(ms);
        size = len;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "GET /app x{requests} (sequential, loopback, {} KiB page): p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        size / 1024,
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );

    // The main query on its own, for comparison.
    let sql = db::inbox::STATEMENTS
        .iter()
        .find(|s| s.name.ends_with("::MINE"))
        .map(|s| s.sql)
        .unwrap_or_default();
    let explain = format!("EXPLAIN (ANALYZE, COSTS OFF) {sql}");
    let plan_pool = pool.clone();
    let plan: Vec<String> = service
        .spawn(async move {
            sqlx::query_scalar(&explain)
                .bind("rep-1")
                .bind(200_i64)
                .fetch_all(&plan_pool)
                .await
        })
        .await??;
    println!(
        "main query (db::inbox::MINE, rep-1, limit 200):\n  {}",
        plan.join("\n  ")
    );

    let p50 = percentile(&times, 0.5);
    println!(
        "| inbox page, {total} open leads ({mine} of the rep) | p50 {p50:.1} ms, p90 {:.1} ms | p50 < 30 ms ({}) |",
        percentile(&times, 0.9),
        if p50 < 30.0 { "met" } else { "NOT met" }
    );
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    service.spawn(async move { pool.close().await }).await?;
    // Both the service's runtime and the cluster stop with blocking waits.
    tokio::task::spawn_blocking(move || {
        drop(service);
        drop(pg);
    })
    .await?;
    Ok(())
}
