//! The rules' backtest over the metrics data set (1 M leads, one cycle each, over a year):
//! one rule over every cycle of the year, `POST /v1/rules/backtest` timed over HTTP. Two rules:
//! one reading only per-cycle columns (`lead_cycles` alone), one reading a lead column and a
//! fact (joined with `leads`). Target: p50 < 2 s.
//!
//! `cargo bench --bench backtest` (`METRICS_BENCH_LEADS`, `BACKTEST_BENCH_CALLS`).

mod metrics_seed;

use std::time::Instant;

use chrono::{Duration, SecondsFormat};
use metrics_seed::{env_n, percentile, seed};
use salgate::{
    db::{
        self,
        rule_backtest::{self, Columns},
    },
    domain::Role,
};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls = env_n("BACKTEST_BENCH_CALLS", 10) as usize;
    let seeded = seed("backtest").await?;
    let (pool, now, leads, base) = (&seeded.pool, seeded.now, seeded.leads, &seeded.base);
    let (_, token) = db::api_keys::create(pool, Role::Revops, None, "bench", now).await?;
    let client = reqwest::Client::new();
    let from = (now - Duration::days(366)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = (now + Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let rules = [
        (
            "channel in [paid, event] (lead_cycles only)",
            json!({"all": [{"field": "channel", "op": "in", "value": ["paid", "event"]}]}),
        ),
        (
            "email matches, or free_mail (joined with leads)",
            json!({"any": [{"field": "email", "op": "matches", "value": "^b-1"},
                           {"field": "free_mail", "op": "eq", "value": true}]}),
        ),
    ];
    println!();
    println!("| backtest rule ({leads} leads, one year) | calls | p50 | p99 | matched |");
    println!("| --- | --- | --- | --- | --- |");
    let mut worst = 0.0f64;
    for (label, condition) in rules {
        let body = json!({
            "rule": {"name": "bench", "position": 1, "condition": condition,
                     "action": {"type": "reject", "code": "out_of_territory"}},
            "from": from, "to": to,
        });
        let mut times = Vec::with_capacity(calls);
        let mut answer = serde_json::Value::Null;
        for i in 0..calls + 1 {
            let t = Instant::now();
            let res = client
                .post(format!("{base}/v1/rules/backtest"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(res.status() == 200, "backtest: {}", res.status());
            answer = res.json().await?;
            // The first call warms the caches and is not counted.
            if i >= 1 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        worst = worst.max(p50);
        println!(
            "| {label} | {calls} | {p50:.0} ms | {p99:.0} ms | {} of {} |",
            answer["matched"], answer["cycles"]
        );
    }
    // Where the joined rule's time goes: PostgreSQL alone (EXPLAIN ANALYZE), then the same
    // read streamed into the service and decoded with no rule evaluated.
    let (from_t, to_t) = (now - Duration::days(366), now + Duration::days(1));
    let cols = Columns {
        email: true,
        ..Columns::default()
    };
    let sql = db::statements()
        .find(|s| s.name == "salgate::db::rule_backtest::WITH_LEADS")
        .map(|s| s.sql)
        .unwrap_or_default();
    let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, TIMING OFF) {sql}"))
        .bind(from_t)
        .bind(to_t)
        .bind(cols.flags())
        .fetch_all(pool)
        .await?;
    let server = plan
        .iter()
        .find(|l| l.starts_with("Execution Time"))
        .cloned();
    let t = Instant::now();
    let mut rows = 0u64;
    rule_backtest::scan(pool, from_t, to_t, cols, |_| rows += 1).await?;
    println!(
        "| the joined read alone: {} in PostgreSQL; {:.0} ms streamed and decoded, {rows} rows |",
        server.unwrap_or_default(),
        t.elapsed().as_secs_f64() * 1000.0
    );
    println!();
    println!(
        "| backtest of one rule, {leads} cycles | slowest p50 {worst:.0} ms | p50 < 2 s ({}) |",
        if worst < 2000.0 { "met" } else { "NOT met" }
    );
    seeded.stop().await
}
