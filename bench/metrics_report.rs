//! Metrics benchmark (docs/api.md §9): 1,000,000 leads with 3,000,000 history rows over a year; the
//! 90-day acceptance report grouped by week over HTTP, p50 and p99 over repeated calls (bar:
//! p50 < 100 ms). The other reports are timed alongside for reference.
//!
//! Run: `cargo bench --bench metrics_report` (env `METRICS_BENCH_LEADS` to resize,
//! `METRICS_BENCH_CALLS` for the number of timed calls). It starts its own throwaway
//! PostgreSQL cluster; the data comes from `bench/metrics_data.sql` through the same
//! `lead_cycles` trigger as the service's writes.

mod metrics_seed;

use std::time::Instant;

use chrono::{Duration, SecondsFormat};
use metrics_seed::{env_n, percentile, seed};
use salgate::{db, domain::Role};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls = env_n("METRICS_BENCH_CALLS", 50) as usize;
    let seeded = seed("metrics").await?;
    let (pool, now, leads, base) = (&seeded.pool, seeded.now, seeded.leads, &seeded.base);
    let (_, token) = db::api_keys::create(pool, Role::Revops, None, "bench", now).await?;
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
    seeded.stop().await
}
