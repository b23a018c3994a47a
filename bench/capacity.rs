//! Capacity figures for docs/scaling.md: on the metrics data set (`bench/metrics_seed.rs`,
//! `METRICS_BENCH_LEADS` leads, 1 M by default, three history rows each, over a year, in
//! monthly partitions), the bytes of every table and its indexes per million leads, history
//! rows and cycles per lead, the 90-day acceptance report's p50; then over HTTP, the WAL
//! PostgreSQL writes per ingested lead (one lead per request, 16 at a time, as CRMs send them),
//! per accept, and per ingested lead with one webhook subscription (its outbox rows).
//!
//! Run: `cargo bench --bench capacity` (env `METRICS_BENCH_LEADS`, `CAPACITY_BENCH_N` requests
//! per WAL measurement, default 4,000). Re-runnable: it starts its own throwaway cluster.

mod metrics_seed;

use std::{sync::Arc, time::Instant};

use chrono::{Duration, SecondsFormat};
use futures_util::{stream, StreamExt};
use metrics_seed::{env_n, percentile, seed};
use salgate::{db, domain::Role};
use serde_json::json;
use sqlx::PgPool;

const TABLES: [&str; 12] = [
    "leads",
    "lead_history",
    "lead_cycles",
    "cycle_blocks",
    "cycle_hour_marks",
    "lead_outcomes",
    "accounts",
    "account_events",
    "webhook_deliveries",
    "webhook_heads",
    "notifications",
    "crm_writebacks",
];

/// Table (with TOAST) and index bytes over every partition (`pg_partition_tree` has no rows
/// for a table that is not partitioned: its own sizes then), rows, and leaf partitions.
const SIZES: &str = "SELECT t.relname::text, \
       COALESCE((SELECT sum(pg_table_size(p.relid)) FROM pg_partition_tree(t.oid) p), \
                pg_table_size(t.oid))::int8, \
       COALESCE((SELECT sum(pg_indexes_size(p.relid)) FROM pg_partition_tree(t.oid) p), \
                pg_indexes_size(t.oid))::int8, \
       (SELECT count(*) FROM pg_partition_tree(t.oid) p WHERE p.isleaf)::int8 \
     FROM pg_class t \
     WHERE t.relname = ANY($1) AND t.relkind IN ('r', 'p') AND t.relnamespace = 'public'::regnamespace \
     ORDER BY 1";

async fn lsn(pool: &PgPool) -> anyhow::Result<String> {
    Ok(sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(pool)
        .await?)
}

async fn wal_since(pool: &PgPool, from: &str) -> anyhow::Result<f64> {
    Ok(
        sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8")
            .bind(from)
            .fetch_one(pool)
            .await?,
    )
}

async fn sizes(pool: &PgPool, leads: i64) -> anyhow::Result<()> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(SIZES)
        .bind(TABLES.as_slice())
        .fetch_all(pool)
        .await?;
    let per_m = |b: i64| b as f64 * 1_000_000.0 / leads as f64 / (1 << 20) as f64;
    println!();
    println!("| table | partitions | rows | table MiB per 1 M leads | index MiB per 1 M leads |");
    println!("| --- | --- | --- | --- | --- |");
    let (mut tsum, mut isum) = (0, 0);
    for (name, table, index, parts) in rows {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {name}"))
            .fetch_one(pool)
            .await?;
        println!(
            "| {name} | {parts} | {count} | {:.1} | {:.1} |",
            per_m(table),
            per_m(index)
        );
        tsum += table;
        isum += index;
    }
    println!(
        "| all of the above | | | {:.1} | {:.1} |",
        per_m(tsum),
        per_m(isum)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = env_n("CAPACITY_BENCH_N", 4_000) as usize;
    let seeded = seed("capacity").await?;
    let (pool, now, leads, base) = (&seeded.pool, seeded.now, seeded.leads, &seeded.base);
    let history: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_history")
        .fetch_one(pool)
        .await?;
    let cycles: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_cycles")
        .fetch_one(pool)
        .await?;
    println!(
        "{leads} leads: {:.2} history rows and {:.2} cycles per lead",
        history as f64 / leads as f64,
        cycles as f64 / leads as f64
    );
    sizes(pool, leads).await?;

    let client = reqwest::Client::new();
    let (_, revops) = db::api_keys::create(pool, Role::Revops, None, "bench", now).await?;
    let from = (now - Duration::days(90)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let url = format!("{base}/v1/metrics/acceptance?from={from}&to={to}&group_by=week");
    let mut times = Vec::new();
    for i in 0..33 {
        let t = Instant::now();
        let res = client.get(&url).bearer_auth(&revops).send().await?;
        anyhow::ensure!(res.status() == 200, "{url}: {}", res.status());
        let body: serde_json::Value = res.json().await?;
        if i == 0 {
            println!(
                "\n90-day acceptance report: {} cycles routed in the period",
                body["total"]["routed"]
            );
        }
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "90-day acceptance report by week: p50 {:.1} ms over 30 calls",
        percentile(&times, 0.5)
    );

    // One lead's history: an index probe in every month's partition (13 here).
    let (_, admin) = db::api_keys::create(pool, Role::Admin, None, "bench", now).await?;
    let id: String = sqlx::query_scalar("SELECT md5('bench-' || $1)::uuid::text")
        .bind((leads / 2).to_string())
        .fetch_one(pool)
        .await?;
    let url = format!("{base}/v1/leads/{id}/history");
    let mut times = Vec::new();
    for i in 0..210 {
        let t = Instant::now();
        let res = client.get(&url).bearer_auth(&admin).send().await?;
        anyhow::ensure!(res.status() == 200, "{url}: {}", res.status());
        res.bytes().await?;
        if i >= 10 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "one lead's history over HTTP: p50 {:.2} ms over 200 calls",
        percentile(&times, 0.5)
    );

    let (_, ingest) = db::api_keys::create(pool, Role::Ingest, None, "bench", now).await?;
    let (_, sdr) = db::api_keys::create(pool, Role::Sdr, Some("rep-1"), "bench", now).await?;
    let (ingest, sdr) = (Arc::new(ingest), Arc::new(sdr));
    let post = |path: String, token: Arc<String>, body: serde_json::Value| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let res = client
                .post(&url)
                .bearer_auth(token.as_str())
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
            Ok::<serde_json::Value, anyhow::Error>(res.json().await?)
        }
    };
    let lead = |run: &str, i: usize| {
        json!({
            "source": "hubspot", "external_id": format!("cap-{run}-{i}"),
            "lead_type": "demo_request", "email": format!("cap-{run}-{i}@example.com"),
            "company": {"name": "Analytical Engines", "size": 40},
            "owner": "rep-1", "queue": "queue-1", "campaign": "campaign-1", "channel": "paid"
        })
    };

    println!("\n| WAL per operation ({n} requests, 16 at a time, over HTTP) | bytes |");
    println!("| --- | --- |");
    let start = lsn(pool).await?;
    let ingested: Vec<serde_json::Value> = stream::iter(0..n)
        .map(|i| post("/v1/leads".into(), ingest.clone(), lead("a", i)))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    println!(
        "| ingest of one lead | {:.0} |",
        wal_since(pool, &start).await? / n as f64
    );

    let start = lsn(pool).await?;
    stream::iter(
        ingested
            .iter()
            .map(|l| l["id"].as_str().unwrap_or_default().to_string()),
    )
    .map(|id| {
        post(
            format!("/v1/leads/{id}/accept"),
            sdr.clone(),
            json!({"note": "fits"}),
        )
    })
    .buffer_unordered(16)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    println!(
        "| accept | {:.0} |",
        wal_since(pool, &start).await? / n as f64
    );

    // One subscription, paused so the dispatcher sends nothing: the outbox rows alone.
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, url, secret, created_at, paused_at) \
         VALUES (gen_random_uuid(), 'https://example.com/hook', 's', $1, $1)",
    )
    .bind(now)
    .execute(pool)
    .await?;
    let start = lsn(pool).await?;
    stream::iter(0..n)
        .map(|i| post("/v1/leads".into(), ingest.clone(), lead("w", i)))
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    println!(
        "| ingest of one lead, one webhook subscription | {:.0} |",
        wal_since(pool, &start).await? / n as f64
    );
    sizes(pool, leads + 2 * n as i64).await?;
    seeded.stop().await
}
