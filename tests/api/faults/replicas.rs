//! Two service replicas as separate processes on one database, under ingest load, each with
//! its own SLA scanner (every second, 10 leads per transaction, so their scans overlap) and
//! webhook dispatcher (every 100 ms): every lead is flagged `sla_breached` exactly once and
//! every event is delivered exactly once.

use std::{
    collections::HashMap,
    sync::{atomic::AtomicBool, Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{http::HeaderMap, http::StatusCode, routing::post, Router};
use salgate::domain::Role;
use serde_json::json;

use super::{
    assert_acknowledged_stored_once, free_port, metrics_page, sample, wait_ready, Load, Service,
};
use crate::helpers::fresh_database;

/// A CRM endpoint that records the event id of every delivery it gets.
async fn receiver() -> (Arc<Mutex<Vec<String>>>, String) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let id = headers["salgate-event-id"].to_str().unwrap().to_string();
                seen.lock().unwrap().push(id);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (got, url)
}

/// The value of a counter with the given label set in a Prometheus text page (0 if absent).
fn counter(page: &str, series: &str) -> u64 {
    sample(page, series).unwrap_or(0.0) as u64
}

/// A lead routed ten minutes ago: past its one-second SLA when it arrives.
fn overdue_lead(external_id: &str) -> serde_json::Value {
    let mut lead = crate::helpers::lead(external_id);
    lead["routed_at"] = json!(chrono::Utc::now() - chrono::Duration::minutes(10));
    lead
}

async fn scalar(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn two_replicas_flag_each_breach_once_and_deliver_each_event_once() {
    let url = fresh_database().await;
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let now = chrono::Utc::now();
    let (_, ingest) = salgate::db::api_keys::create(&pool, Role::Ingest, None, "fault", now)
        .await
        .unwrap();
    let (_, revops) = salgate::db::api_keys::create(&pool, Role::Revops, None, "fault", now)
        .await
        .unwrap();
    let (deliveries, hook) = receiver().await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // Set up through a first service, stopped before the replicas start (so neither caches
    // the old policy): leads are due one second after routing, on a 24×7 clock.
    let mut setup = Service::start(&url, free_port(), &[]);
    wait_ready(&client, &setup.base).await;
    let res = client
        .put(format!("{}/v1/sla-policies/demo_request", setup.base))
        .bearer_auth(&revops)
        .json(&json!({"accept_within": "PT1S", "first_touch_within": "PT1H"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = client
        .post(format!("{}/v1/webhook-subscriptions", setup.base))
        .bearer_auth(&revops)
        .json(&json!({"url": hook, "events": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    setup.kill();

    // Started together, the replicas scan on nearly the same ticks, in batches of 10.
    let env = [
        ("SALGATE_SLA_SCAN_INTERVAL", "1s"),
        ("SALGATE_SLA_SCAN_BATCH", "10"),
        ("SALGATE_OUTBOX_POLL_INTERVAL", "100ms"),
    ];
    let a = Service::start(&url, free_port(), &env);
    let b = Service::start(&url, free_port(), &env);
    wait_ready(&client, &a.base).await;
    wait_ready(&client, &b.base).await;

    let stop = Arc::new(AtomicBool::new(false));
    let bases = [a.base.clone(), b.base.clone()];
    let (tally, workers) = Load {
        body: overdue_lead,
        per_worker: 150,
        ..Load::on(&bases, &ingest, "replica", 4)
    }
    .start(&client, &stop);
    for w in workers {
        w.await.unwrap();
    }

    // Every lead breached, every event delivered (or the test gives up after 120 s).
    let started = Instant::now();
    loop {
        let open = scalar(
            &pool,
            "SELECT count(*) FROM leads WHERE sla_breached_at IS NULL AND state = 'routed'",
        )
        .await;
        let pending = scalar(
            &pool,
            "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'",
        )
        .await;
        if open == 0 && pending == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{open} leads not yet breached, {pending} deliveries pending after 120 s\n\
             A:\n{}\nB:\n{}",
            a.errors(),
            b.errors()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let tally = tally.lock().unwrap().clone();
    let stored = assert_acknowledged_stored_once(&pool, "replica", &tally.acknowledged).await;
    assert_eq!(stored, 600, "every lead was acknowledged");
    let not_once = scalar(
        &pool,
        "SELECT count(*) FROM leads l WHERE (SELECT count(*) FROM lead_history h \
         WHERE h.lead_id = l.id AND h.kind = 'sla_breached') <> 1",
    )
    .await;
    assert_eq!(not_once, 0, "leads not flagged sla_breached exactly once");
    let at_risk_twice = scalar(
        &pool,
        "SELECT count(*) FROM leads l WHERE (SELECT count(*) FROM lead_history h \
         WHERE h.lead_id = l.id AND h.kind = 'sla_at_risk') > 1",
    )
    .await;
    assert_eq!(at_risk_twice, 0, "leads flagged sla_at_risk twice");

    let events = scalar(
        &pool,
        "SELECT count(*) FROM lead_history WHERE webhook_event_type(kind) IS NOT NULL",
    )
    .await;
    let got = deliveries.lock().unwrap().clone();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for id in &got {
        *times.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} events delivered more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    assert_eq!(got.len() as i64, events, "one delivery per history event");

    // Which replica did the work (informational: either may win every race).
    let mut work = Vec::new();
    for s in [&a, &b] {
        let page = metrics_page(&client, &s.base).await;
        work.push((
            counter(&page, "salgate_sla_events_total{kind=\"sla_breached\"}"),
            counter(
                &page,
                "salgate_webhook_attempts_total{result=\"delivered\"}",
            ),
        ));
    }
    let breached: u64 = work.iter().map(|w| w.0).sum();
    assert_eq!(
        breached as usize, stored,
        "the replicas' breach counters add up"
    );
    eprintln!(
        "replicas: sent {}, acknowledged {}, stored {stored}, events {events}, delivered {}, \
         (breaches, deliveries) by replica A {:?} B {:?}",
        tally.sent,
        tally.acknowledged.len(),
        got.len(),
        work[0],
        work[1]
    );
}
