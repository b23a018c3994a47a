//! A test app runs none of the service's periodic jobs unless the test asks: counts taken
//! from a dispatcher or scanner the test drives itself are then the only ones.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{dispatcher, eventually, subscribe, Receiver};
use crate::helpers::{lead, spawn_app_with, spawn_app_with_jobs, TestApp};

/// Intervals short enough that a job left running would act within a few milliseconds.
fn eager(s: &mut salgate::config::Settings) {
    s.outbox_poll_interval = StdDuration::from_millis(5);
    s.sla_scan_interval = StdDuration::from_millis(5);
    s.metrics_compact_interval = StdDuration::from_millis(5);
}

async fn history_kinds(app: &TestApp, id: &str) -> Vec<String> {
    app.history(id)
        .await
        .iter()
        .map(|h| h["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_test_app_sends_and_scans_nothing_by_itself() {
    let app = spawn_app_with(eager).await;
    let (receiver, url) = Receiver::start().await;
    subscribe(&app, &url, json!([])).await;
    let at: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
    app.clock.set(at);
    let l = app.ingest(&lead("bg-1")).await;
    let id = l["id"].as_str().unwrap();
    // Past the demo_request's 1 h deadline: a scanner would flag it at its next tick.
    app.clock.set(at + chrono::Duration::hours(2));
    // A window, not a wait: with 5 ms intervals a running job would have acted many times.
    let acted = eventually(StdDuration::from_millis(300), || {
        !receiver.bodies().is_empty()
    })
    .await;
    assert!(!acted, "a background dispatcher delivered");
    assert_eq!(history_kinds(&app, id).await, ["routed"], "nothing scanned");
    let attempts = app.count("webhook_attempts").await;
    assert_eq!(attempts, 0, "nothing tried in the background");
    // The test's own dispatcher is the only one.
    dispatcher(&app).drain(&Default::default()).await.unwrap();
    assert_eq!(receiver.bodies().len(), 1);
}

#[tokio::test]
async fn an_app_that_asks_for_its_jobs_delivers_by_itself() {
    let app = spawn_app_with_jobs(eager).await;
    let (receiver, url) = Receiver::start().await;
    subscribe(&app, &url, json!(["lead.routed"])).await;
    app.ingest(&lead("bg-2")).await;
    let delivered = eventually(StdDuration::from_secs(10), || receiver.bodies().len() == 1).await;
    assert!(delivered, "the app's own dispatcher did not deliver");
}
