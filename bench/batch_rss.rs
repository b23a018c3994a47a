//! Memory under batch load (docs/api.md §9: RSS < 100 MiB while 4 clients send 16 MiB batches in a
//! loop).
//!
//! Run: `cargo bench --bench batch_rss` (env `BATCH_RSS_SECONDS`, default 30;
//! `BATCH_RSS_CLIENTS`, default 4). Starts a throwaway PostgreSQL cluster and the real release
//! binary (`target/release/salgate`, with its default settings), then each client POSTs
//! ~16 MiB batches back to back: even clients send 1,000 new leads of ~16 KiB of attributes
//! each (many small members: the costliest shape to parse), odd ones one lead whose
//! attributes fill the body (refused as over 32 KiB). The service's VmRSS is sampled from
//! /proc every 50 ms; VmHWM (the kernel's peak) is read at the end.

use std::{
    process::{Child, Command},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use salgate::{
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
    },
    domain::Role,
};
use serde_json::{json, Map, Value};

const BODY: usize = 16 * 1024 * 1024;

fn env_n(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 1,000 new leads (ids from `n`) with ~16 KiB of small attribute members each.
fn many_leads(n: u64) -> Vec<u8> {
    let mut attributes = Map::new();
    for k in 0..780 {
        attributes.insert(format!("k{k:03}"), json!("vvvvvvvvvv"));
    }
    let attributes = Value::Object(attributes);
    let leads: Vec<Value> = (0..1000)
        .map(|i| {
            json!({
                "source": "bench", "external_id": format!("r{n}-{i}"), "lead_type": "demo_request",
                "email": format!("lead{i}@example.com"), "owner": format!("rep-{}", 1 + i % 50),
                "attributes": attributes
            })
        })
        .collect();
    let body = serde_json::to_vec(&json!({ "leads": leads })).expect("serializable");
    assert!(body.len() <= BODY, "{} bytes", body.len());
    body
}

/// One lead whose attributes fill a 16 MiB body.
fn one_huge_lead() -> Vec<u8> {
    let notes = "n".repeat(BODY - 300);
    let lead = json!({"source": "bench", "external_id": "huge", "lead_type": "demo_request",
                      "attributes": {"notes": notes}});
    serde_json::to_vec(&json!({ "leads": [lead] })).expect("serializable")
}

/// `VmRSS` or `VmHWM` of `pid`, in KiB.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM: a graceful stop; the child is ours.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_n("BATCH_RSS_SECONDS", 30);
    let clients = env_n("BATCH_RSS_CLIENTS", 4);
    let dir = std::env::temp_dir().join(format!("salgate-rss-bench-{}", std::process::id()));
    let cluster_dir = dir.clone();
    let pg = tokio::task::spawn_blocking(move || {
        EmbeddedPostgres::start(EmbeddedOptions {
            dir,
            ephemeral: false,
            database: "bench".into(),
            max_connections: 40,
            port: None,
        })
    })
    .await??;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let service = Service(
        Command::new(env!("CARGO_BIN_EXE_salgate"))
            .env("DATABASE_URL", pg.database_url())
            .env("SALGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("SALGATE_LOG", "warn")
            .env("SALGATE_RATE_LIMIT_PER_SECOND", "0")
            .spawn()?,
    );
    let pid = service.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "service not ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pool = db::connect(&pg.database_url(), 2).await?;
    let (_, token) =
        db::api_keys::create(&pool, Role::Ingest, None, "bench", chrono::Utc::now()).await?;
    let idle = status_kib(pid, "VmRSS:").unwrap_or(0);

    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(idle));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS:") {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let huge = Arc::new(one_huge_lead());
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default()); // 200, 503, other
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..clients)
        .map(|c| {
            let (client, token, huge, counts) =
                (client.clone(), token.clone(), huge.clone(), counts.clone());
            let url = format!("{base}/v1/leads/batch");
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    let body = if c % 2 == 0 {
                        many_leads(c * 1_000_000 + n)
                    } else {
                        huge.to_vec()
                    };
                    let res = client
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    let slot = match res.status().as_u16() {
                        200 => 0,
                        503 => 1,
                        _ => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                    let _ = res.bytes().await?;
                    if std::env::var_os("BATCH_RSS_TRACE").is_some() {
                        eprintln!(
                            "client {c} request {n}: VmRSS {:?} KiB",
                            status_kib(pid, "VmRSS:")
                        );
                    }
                    if slot == 1 {
                        // Retry-After: 1.
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    for w in workers {
        w.await??;
    }
    stop.store(true, Ordering::Relaxed);
    sampler.await?;
    let hwm = status_kib(pid, "VmHWM:").unwrap_or(0);
    let peak = peak.load(Ordering::Relaxed).max(hwm);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE source = 'bench'")
        .fetch_one(&pool)
        .await?;
    let [ok, busy, other] = [0, 1, 2].map(|i| counts[i].load(Ordering::Relaxed));
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "| {clients} clients sending 16 MiB batches for {seconds} s ({ok} × 200, {busy} × 503, \
         {other} other; {stored} leads stored) | peak RSS {:.1} MiB (idle {:.1} MiB) | < 100 MiB ({}) |",
        mib(peak),
        mib(idle),
        if mib(peak) < 100.0 { "met" } else { "NOT met" }
    );
    drop(service);
    pool.close().await;
    tokio::task::spawn_blocking(move || pg.stop()).await??;
    std::fs::remove_dir_all(cluster_dir)?;
    anyhow::ensure!(other == 0, "{other} batches answered neither 200 nor 503");
    Ok(())
}
