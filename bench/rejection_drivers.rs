//! Rejection-drivers benchmark (issue 19): on the metrics data set (`bench/metrics_seed.rs`:
//! 1,000,000 leads, 3,000,000 history rows over a year) with features given to every cycle,
//! `GET /v1/metrics/rejection-drivers` for the last 90 days (bar: p50 < 200 ms), unfiltered
//! and with the filters, and the funnel report on the same data, p50 and p99 over repeated
//! calls; then `EXPLAIN (ANALYZE, BUFFERS)` of the statement for cycles stored before
//! features were (the report reads every other cycle's features from the compacted blocks).
//!
//! The seed writes leads without titles or companies, so each lead here gets one of 16 titles,
//! 7 company sizes, 9 countries, 6 industries and 6 scores, chosen from its number (rejected
//! leads lean towards HR titles and companies under 50, so the summary has a driver), and its
//! cycles get the features `service::features` computes for those inputs and the seed's
//! source, campaign, channel and lead type: nearly every cycle has a vector of its own, as in
//! real data. The table is then rewritten (`VACUUM FULL`) as if the features had been
//! inserted with the cycles, and only then compacted.
//!
//! Run: `cargo bench --bench rejection_drivers` (env `METRICS_BENCH_LEADS` to resize,
//! `DRIVERS_BENCH_CALLS` for the number of timed calls).

mod metrics_seed;

use std::time::Instant;

use chrono::{Duration, SecondsFormat};
use metrics_seed::{env_n, percentile, seed_with};
use salgate::{
    db::{self, drivers::UNFEATURED_CYCLES},
    domain::{
        features::{extract, LeadInputs},
        lead_input::Company,
        Role,
    },
};
use serde_json::json;
use uuid::Uuid;

const TITLES: [&str; 16] = [
    "HR Generalist",
    "HR Manager",
    "Talent Acquisition Specialist",
    "Head of People",
    "VP Sales",
    "Sales Manager",
    "Account Executive",
    "CEO",
    "CTO",
    "Marketing Manager",
    "Demand Generation Director",
    "IT Manager",
    "Software Engineer",
    "Finance Director",
    "Operations Lead",
    "Customer Success Manager",
];
const SIZES: [Option<i64>; 7] = [
    Some(12),
    Some(80),
    Some(450),
    Some(2_500),
    Some(12_000),
    Some(40),
    None,
];
const COUNTRIES: [Option<&str>; 9] = [
    Some("Germany"),
    Some("United States"),
    Some("UK"),
    Some("France"),
    Some("India"),
    Some("Brazil"),
    Some("Australia"),
    Some("Atlantis"),
    None,
];
const INDUSTRIES: [&str; 6] = [
    "Software",
    "Manufacturing",
    "Retail",
    "Financial Services",
    "Healthcare",
    "Education",
];
const SCORES: [Option<f64>; 6] = [
    Some(5.0),
    Some(30.0),
    Some(50.0),
    Some(70.0),
    Some(95.0),
    None,
];

/// The inputs the benchmark gives lead `i` (its decision is the seed's, by `i % 20`).
fn features(i: i64, source: &str, campaign: &str, channel: &str, lead_type: &str) -> String {
    let k = i % 20;
    let pick = |n: usize, by: i64| (by.rem_euclid(n as i64)) as usize;
    let title = if (12..=14).contains(&k) {
        TITLES[pick(4, i / 20)]
    } else {
        TITLES[pick(16, i / 7)]
    };
    let size = if (15..=16).contains(&k) {
        SIZES[0]
    } else {
        SIZES[pick(7, i / 13)]
    };
    let company = Company {
        size: size.map(|s| json!(s)),
        country: COUNTRIES[pick(9, i / 29)].map(str::to_owned),
        industry: Some(INDUSTRIES[pick(6, i / 31)].to_owned()),
        ..Company::default()
    };
    let inputs = LeadInputs {
        title: Some(title),
        company: Some(&company),
        campaign: Some(campaign),
        channel: Some(channel),
        source,
        score: SCORES[pick(6, i / 37)],
        lead_type,
        attributes: None,
    };
    extract(&inputs, &[]).encode()
}

/// A lead as the feature fill reads it: id, external id, source, campaign, channel, lead type.
type LeadInputsRow = (Uuid, String, String, Option<String>, Option<String>, String);

/// Gives every cycle its features, 50,000 leads per statement (before the seed compacts).
fn add_features(
    pool: &sqlx::PgPool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + '_>> {
    Box::pin(fill_features(pool))
}

async fn fill_features(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let t = Instant::now();
    let rows: Vec<LeadInputsRow> =
        sqlx::query_as("SELECT id, external_id, source, campaign, channel, lead_type FROM leads")
            .fetch_all(pool)
            .await?;
    for chunk in rows.chunks(50_000) {
        let (mut ids, mut fs) = (Vec::new(), Vec::new());
        for (id, ext, source, campaign, channel, lead_type) in chunk {
            let i: i64 = ext.trim_start_matches("b-").parse()?;
            let (c, ch) = (
                campaign.as_deref().unwrap_or(""),
                channel.as_deref().unwrap_or(""),
            );
            ids.push(*id);
            fs.push(features(i, source, c, ch, lead_type));
        }
        sqlx::query(
            "UPDATE lead_cycles c SET features = u.f \
             FROM unnest($1::uuid[], $2::text[]) AS u(id, f) WHERE c.lead_id = u.id",
        )
        .bind(&ids)
        .bind(&fs)
        .execute(pool)
        .await?;
    }
    sqlx::raw_sql("VACUUM FULL ANALYZE lead_cycles")
        .execute(pool)
        .await?;
    println!(
        "features for {} leads in {:.1} s",
        rows.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls = env_n("DRIVERS_BENCH_CALLS", 30) as usize;
    let seeded = seed_with("drivers", Some(add_features)).await?;
    let (pool, now, leads, base) = (&seeded.pool, seeded.now, seeded.leads, &seeded.base);
    let (_, token) = db::api_keys::create(pool, Role::Revops, None, "bench", now).await?;
    let client = reqwest::Client::new();
    let from_t = now - Duration::days(90);
    let from = from_t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let reports = [
        ("rejection-drivers", ""),
        ("rejection-drivers", "decided_by=person"),
        ("rejection-drivers", "source=hubspot&channel=paid"),
        ("rejection-drivers", "queue=queue-1"),
        ("rejection-drivers", "tz=Asia/Kolkata"),
        ("funnel", "group_by=week"),
        ("funnel", ""),
        ("funnel", "group_by=campaign"),
    ];
    println!();
    println!("| report (90 days, {leads} leads) | calls | p50 | p99 |");
    println!("| --- | --- | --- | --- |");
    let (mut slowest, mut funnel_slowest) = (0.0f64, 0.0f64);
    let mut summary = serde_json::Value::Null;
    for (report, query) in reports {
        let url = format!("{base}/v1/metrics/{report}?from={from}&to={to}&{query}");
        let mut times = Vec::with_capacity(calls);
        for i in 0..calls + 3 {
            let t = Instant::now();
            let res = client.get(&url).bearer_auth(&token).send().await?;
            anyhow::ensure!(res.status() == 200, "{url}: {}", res.status());
            let body: serde_json::Value = res.json().await?;
            if i >= 3 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            if report == "rejection-drivers" && query.is_empty() {
                summary = json!({"total": body["total"], "summary": body["summary"]});
            }
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        let label = if query.is_empty() {
            "(unfiltered)"
        } else {
            query
        };
        println!("| {report} {label} | {calls} | {p50:.1} ms | {p99:.1} ms |");
        if report == "funnel" {
            funnel_slowest = funnel_slowest.max(p50);
        } else {
            slowest = slowest.max(p50);
        }
    }
    println!();
    println!("drivers, 90 days: {summary}");
    println!(
        "| rejection-drivers report, {leads} leads, 90 days, every filter above | slowest p50 {slowest:.1} ms | p50 < 200 ms ({}) |",
        if slowest < 200.0 { "met" } else { "NOT met" }
    );
    println!(
        "| funnel report, same data | slowest p50 {funnel_slowest:.1} ms | p50 < 200 ms ({}) |",
        if funnel_slowest < 200.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    // Cycles stored before features were (none here): found through their partial index.
    let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {UNFEATURED_CYCLES}");
    let plan: Vec<String> = sqlx::query_scalar(&explain)
        .bind(from_t)
        .bind(now)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<Uuid>)
        .bind(None::<bool>)
        .fetch_all(pool)
        .await?;
    println!();
    for line in plan {
        println!("    {line}");
    }
    seeded.stop().await
}
