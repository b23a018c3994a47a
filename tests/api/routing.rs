//! Queues and reps (the data routing works on).

use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app, TestApp};

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path, &app.admin, Some(&body))
        .await
}

#[tokio::test]
async fn queues_and_reps_are_created_read_and_replaced() {
    let app = spawn_app().await;
    let res = put(
        &app,
        "/v1/queues/emea",
        json!({"name": "EMEA inbound", "strategy": "round_robin"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        put(&app, "/v1/queues/pool", json!({"strategy": "claim"}))
            .await
            .status(),
        200
    );
    let res = put(&app, "/v1/reps/rep-1", json!({"name": "Sam", "email": "sam@example.com", "queues": ["emea", "pool", "emea"], "capacity": 5})).await;
    assert_eq!(res.status(), 200);
    let rep: Value = res.json().await.unwrap();
    assert_eq!(rep["queues"], json!(["emea", "pool"]));
    assert_eq!(
        (rep["active"].as_bool(), rep["capacity"].as_i64()),
        (Some(true), Some(5))
    );
    app.ingest(&lead("c-1")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let rep: Value = app.get("/v1/reps/rep-1", &sdr).await.json().await.unwrap();
    assert_eq!(rep["open_leads"], 1);
    let queue: Value = app.get("/v1/queues/emea", &sdr).await.json().await.unwrap();
    assert_eq!(
        (queue["name"].as_str(), queue["members"].clone()),
        (Some("EMEA inbound"), json!(["rep-1"]))
    );
    // Replacing the rep replaces its memberships.
    let rep: Value = put(&app, "/v1/reps/rep-1", json!({"name": "Sam", "queues": ["pool"], "active": false, "away_until": "2026-12-01T00:00:00Z"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rep["queues"], json!(["pool"]));
    assert_eq!(rep["away_until"], "2026-12-01T00:00:00Z");
    let list: Value = app.get("/v1/queues", &sdr).await.json().await.unwrap();
    assert_eq!(list["items"][0]["members"], json!([]));
    let reps: Value = app.get("/v1/reps", &sdr).await.json().await.unwrap();
    assert_eq!(reps["items"].as_array().unwrap().len(), 1);
    problem(app.get("/v1/reps/nobody", &sdr).await, 404, "not_found").await;
    problem(app.get("/v1/queues/none", &sdr).await, 404, "not_found").await;
}

#[tokio::test]
async fn bad_queues_and_reps_are_422_naming_fields_and_only_revops_writes() {
    let app = spawn_app().await;
    let p = problem(
        put(
            &app,
            "/v1/queues/q",
            json!({"strategy": "fifo", "calendar": "none"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["strategy", "calendar"]);
    let p = problem(
        put(
            &app,
            "/v1/reps/r",
            json!({"queues": ["missing"], "capacity": -1, "away_until": "soon", "active": "yes"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["active", "capacity", "away_until", "queues"]);
    let sdr = app.key(Role::Sdr, Some("r")).await;
    let res = app
        .request(
            Method::PUT,
            "/v1/queues/q",
            &sdr,
            Some(&json!({"strategy": "claim"})),
        )
        .await;
    problem(res, 403, "forbidden").await;
    assert_eq!(app.count("reps").await, 0);
    assert_eq!(app.count("queues").await, 0);
}

#[tokio::test]
async fn a_queue_calendar_applies_when_the_policy_has_none() {
    let app = spawn_app().await;
    let windows: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"}))
        .collect();
    let res = put(
        &app,
        "/v1/calendars/ny",
        json!({"time_zone": "America/New_York", "windows": windows}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        put(
            &app,
            "/v1/queues/emea",
            json!({"strategy": "round_robin", "calendar": "ny"})
        )
        .await
        .status(),
        200
    );
    // Saturday 2026-03-07 12:00Z: counting starts Monday 09:00 New York (13:00Z, EST).
    app.clock.set("2026-03-07T12:00:00Z".parse().unwrap());
    let l = app.ingest(&lead("c-1")).await;
    assert_eq!(l["sla"]["due_at"], "2026-03-09T14:00:00Z");
    let mut other = lead("c-2");
    other["queue"] = json!("na");
    let l = app.ingest(&other).await;
    assert_eq!(
        l["sla"]["due_at"], "2026-03-07T13:00:00Z",
        "no queue calendar: 24x7"
    );
}
