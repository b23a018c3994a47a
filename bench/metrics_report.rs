//! Metrics benchmark (docs/api.md §9): 1,000,000 leads with 3,000,000 history rows over a year; the
//! 90-day acceptance report grouped by week over HTTP, p50 and p99 over repeated calls (bar:
//! p50 < 100 ms), and every other report, grouping, filter and kind of zone (whole-hour,
//! :30 and :45 offsets) the same way, each held to the same bar; the funnel report (outcomes
//! for the accepted leads, see `bench/metrics_data.sql`) in several groupings, bar p50 < 200 ms.
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
    // Every report; every grouping; zones on whole hours and on :30 and :45; the filters.
    let reports = [
        ("acceptance", "group_by=week"),
        ("acceptance", "group_by=week&tz=America/New_York"),
        ("acceptance", "group_by=week&tz=Asia/Kolkata"),
        ("acceptance", "group_by=week&tz=Asia/Kathmandu"),
        ("acceptance", "group_by=day&tz=Asia/Kolkata"),
        ("acceptance", "group_by=month&tz=Europe/Berlin"),
        ("acceptance", ""),
        ("acceptance", "group_by=week&source=hubspot&channel=paid"),
        ("acceptance", "group_by=week&queue=queue-1"),
        ("acceptance", "group_by=week&owner=rep-7"),
        (
            "acceptance",
            "group_by=week&campaign=campaign-3&lead_type=demo_request",
        ),
        ("acceptance", "group_by=source"),
        ("acceptance", "group_by=campaign"),
        ("acceptance", "group_by=channel"),
        ("acceptance", "group_by=lead_type"),
        ("acceptance", "group_by=queue"),
        ("acceptance", "group_by=owner"),
        ("rejections", "group_by=week"),
        ("rejections", "group_by=week&tz=Asia/Kolkata"),
        ("rejections", "group_by=owner"),
        ("rejections", "group_by=day&source=hubspot&channel=paid"),
        ("sla", "group_by=week"),
        ("sla", "group_by=week&tz=Asia/Kathmandu"),
        ("sla", "group_by=owner"),
        ("sla", "group_by=week&queue=queue-1"),
        ("recycling", "group_by=week"),
        ("recycling", "group_by=week&tz=Asia/Kolkata"),
        ("recycling", "group_by=campaign"),
        ("recycling", "group_by=week&channel=event"),
        ("funnel", "group_by=week"),
        ("funnel", ""),
        ("funnel", "group_by=campaign"),
        ("funnel", "group_by=owner&tz=Asia/Kolkata"),
        ("funnel", "group_by=month&campaign=campaign-3"),
    ];
    println!();
    println!("| report (90 days, {leads} leads) | calls | p50 | p99 |");
    println!("| --- | --- | --- | --- |");
    let mut headline = None;
    let mut slowest = 0.0f64;
    let (mut funnel_slowest, mut funnel_body) = (0.0f64, serde_json::Value::Null);
    for (report, query) in reports {
        let url = format!("{base}/v1/metrics/{report}?from={from}&to={to}&{query}");
        let label = if query.is_empty() {
            "(ungrouped)"
        } else {
            query
        };
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
        println!("| {report} {label} | {calls} | {p50:.1} ms | {p99:.1} ms |");
        if report == "funnel" {
            funnel_slowest = funnel_slowest.max(p50);
            if funnel_body.is_null() {
                funnel_body = body.clone();
            }
        } else {
            slowest = slowest.max(p50);
        }
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
    println!(
        "| every report above but the funnel, {leads} leads, 90 days | slowest p50 {slowest:.1} ms | p50 < 100 ms ({}) |",
        if slowest < 100.0 { "met" } else { "NOT met" }
    );
    let ft = &funnel_body["total"];
    println!(
        "funnel, 90 days by week: routed {}, accepted {}, meeting {}, sql {}, opportunity {}, won {}, pipeline/accepted {} {}",
        ft["routed"], ft["accepted"], ft["meeting"], ft["sql"], ft["opportunity"], ft["won"],
        ft["pipeline_per_accepted"], funnel_body["currency"]
    );
    println!(
        "| funnel report, {leads} leads, 90 days, every grouping above | slowest p50 {funnel_slowest:.1} ms | p50 < 200 ms ({}) |",
        if funnel_slowest < 200.0 { "met" } else { "NOT met" }
    );
    seeded.stop().await
}
