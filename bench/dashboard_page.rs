//! Dashboard benchmark (issue 16): on the metrics data set (`bench/metrics_seed.rs`: 1,000,000
//! leads, 3,000,000 history rows over a year), `GET /app/dashboard` for the last 90 days by
//! week with a revops session, p50 and p90 over repeated calls (bar: p50 < 150 ms), next to
//! the same period's `/v1/metrics/acceptance`. Times are request to last byte over loopback,
//! so they include the (small) client and transfer share as well as the server's.
//!
//! Run: `cargo bench --bench dashboard_page` (env `METRICS_BENCH_LEADS` to resize,
//! `DASHBOARD_BENCH_CALLS` for the number of timed calls).

mod metrics_seed;

use std::time::Instant;

use chrono::Duration;
use metrics_seed::{env_n, percentile, seed};
use salgate::{
    db::{self, sessions::NewSession},
    domain::Role,
};

/// p50 and p90 in ms of `calls` GETs (after three untimed ones), and the last body.
async fn time(
    calls: usize,
    send: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<(f64, f64, String)> {
    let mut times = Vec::with_capacity(calls);
    let mut body = String::new();
    for i in 0..calls + 3 {
        let t = Instant::now();
        let res = send().send().await?;
        anyhow::ensure!(res.status() == 200, "{}", res.status());
        body = res.text().await?;
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((percentile(&times, 0.5), percentile(&times, 0.9), body))
}

/// The `data-value` of the element with id `id` in the page.
fn page_value<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let v = &rest[rest.find("data-value=\"")? + 12..];
    Some(&v[..v.find('"')?])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls = env_n("DASHBOARD_BENCH_CALLS", 30) as usize;
    let seeded = seed("dashboard").await?;
    let (pool, now, leads, base) = (&seeded.pool, seeded.now, seeded.leads, &seeded.base);
    let (key, token) = db::api_keys::create(pool, Role::Revops, None, "bench", now).await?;
    let new = NewSession {
        role: Role::Revops,
        rep: None,
        api_key_id: Some(key.id),
        sign_in_link_id: None,
    };
    let (_, session) =
        db::sessions::create_session(pool, &new, now, now + Duration::days(1)).await?;
    let cookie = format!("salgate_session={session}");
    let client = reqwest::Client::new();

    let from = (now - Duration::days(90)).format("%Y-%m-%d").to_string();
    let to = now.format("%Y-%m-%d").to_string();
    let cases = [
        ("group_by=week", "unfiltered"),
        ("group_by=week&queue=queue-1", "queue=queue-1"),
    ];
    println!();
    println!("| 90 days by week, {leads} leads | calls | p50 | p90 |");
    println!("| --- | --- | --- | --- |");
    let mut headline = None;
    for (query, label) in cases {
        let q = format!("from={from}&to={to}&{query}");
        let page_url = format!("{base}/app/dashboard?{q}");
        let api_url = format!("{base}/v1/metrics/acceptance?{q}");
        let (p50, p90, html) =
            time(calls, || client.get(&page_url).header("cookie", &cookie)).await?;
        println!("| GET /app/dashboard, {label} | {calls} | {p50:.1} ms | {p90:.1} ms |");
        let (a50, a90, json) = time(calls, || client.get(&api_url).bearer_auth(&token)).await?;
        println!("| GET /v1/metrics/acceptance, {label} | {calls} | {a50:.1} ms | {a90:.1} ms |");
        // The page must show the API's numbers.
        let api: serde_json::Value = serde_json::from_str(&json)?;
        let routed: Option<i64> = page_value(&html, "routed").and_then(|v| v.parse().ok());
        anyhow::ensure!(
            routed.is_some() && routed == api["total"]["routed"].as_i64(),
            "page routed {routed:?} vs API {}",
            api["total"]["routed"]
        );
        if headline.is_none() {
            headline = Some((p50, p90, routed.unwrap_or(0), html.len()));
        }
    }
    let (p50, p90, routed, bytes) = headline.expect("the first case ran");
    println!();
    println!("dashboard page: {bytes} bytes, routed {routed} (same as the API)");
    println!(
        "| dashboard page, {leads} leads, 90 days by week | p50 {p50:.1} ms, p90 {p90:.1} ms | p50 < 150 ms ({}) |",
        if p50 < 150.0 { "met" } else { "NOT met" }
    );
    seeded.stop().await
}
