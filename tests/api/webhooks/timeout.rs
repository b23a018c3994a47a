//! docs/api.md §7's receiver timeout: a receiver that takes the connection and the request and
//! never answers fails the attempt after 5 s, and the delivery is retried on the schedule.
//!
//! The 5 s are real: the timeout is the dispatcher's constant, not a setting, so the test
//! measures the value itself (one test waiting 5 s of wall time, no CPU, beside the others).

use std::{
    sync::atomic::Ordering,
    time::{Duration as StdDuration, Instant},
};

use chrono::{DateTime, Duration, Utc};
use salgate::jobs::dispatcher::{Sent, TIMEOUT};
use serde_json::{json, Value};

use super::{dispatcher, subscribe, Receiver};
use crate::helpers::{lead, spawn_app, TestApp};

async fn only_delivery(app: &TestApp, sub: &str) -> Value {
    let list: Value = app
        .get(
            &format!("/v1/webhook-subscriptions/{sub}/deliveries"),
            &app.admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

fn at(v: &Value) -> DateTime<Utc> {
    serde_json::from_value(v.clone()).unwrap()
}

#[tokio::test]
async fn a_receiver_that_never_answers_fails_the_attempt_after_5_s_and_it_is_retried() {
    assert_eq!(TIMEOUT, StdDuration::from_secs(5), "docs/api.md §7");
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    let (sub, _) = subscribe(&app, &url, json!(["lead.routed"])).await;
    receiver.hang.store(true, Ordering::SeqCst);
    app.ingest(&lead("slow-1")).await;
    let d = dispatcher(&app);

    let started = Instant::now();
    let sent = d.run_once().await.unwrap();
    let took = started.elapsed();
    assert_eq!(sent, Some(Sent::Failed));
    assert!(
        took >= StdDuration::from_secs(5) && took < StdDuration::from_secs(7),
        "gave up after {took:?}"
    );
    // The request did reach the receiver's handler, which never answered.
    tokio::time::timeout(StdDuration::from_secs(1), receiver.arrived.notified())
        .await
        .expect("the request arrived");
    assert!(receiver.bodies().is_empty());

    let first = only_delivery(&app, &sub).await;
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["attempts"], 1);
    let attempt = &first["attempt_log"][0];
    assert_eq!(attempt["status_code"], Value::Null, "no answer, no status");
    assert_eq!(attempt["error"], "no answer within 5 s");
    assert!(
        attempt["duration_ms"].as_i64().unwrap() >= 5000,
        "{attempt}"
    );
    // First retry 1 s after the attempt, ±20 % jitter.
    let wait = at(&first["next_attempt_at"]) - at(&attempt["attempted_at"]);
    assert!(
        wait >= Duration::milliseconds(800) && wait <= Duration::milliseconds(1200),
        "retry after {wait}"
    );

    receiver.hang.store(false, Ordering::SeqCst);
    app.clock.advance(Duration::milliseconds(799));
    assert_eq!(d.run_once().await.unwrap(), None, "not due before 0.8 s");
    app.clock.advance(Duration::milliseconds(402));
    assert_eq!(d.run_once().await.unwrap(), Some(Sent::Delivered));
    assert_eq!(receiver.bodies().len(), 1);
    let done = only_delivery(&app, &sub).await;
    assert_eq!(done["status"], "delivered");
    let codes: Vec<&Value> = done["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&Value::Null, &json!(204)]);
}
