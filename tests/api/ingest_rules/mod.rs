//! Ingest rules over HTTP: each operator and action at ingest, dry run, the rule's actor in
//! the history, what a person can do after a rule decided, bad bodies, concurrent writes, and
//! a backtest checked against counts made by hand.

mod actions;
mod backtest;
mod bodies;
mod operators;

use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// An app with queue `emea` (round robin) and reps `rep-1` and `rep-2` in it.
pub async fn app() -> (TestApp, String) {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    put(
        &app,
        &revops,
        "/v1/queues/emea",
        json!({"strategy": "round_robin"}),
    )
    .await;
    put(
        &app,
        &revops,
        "/v1/queues/nurture",
        json!({"strategy": "claim"}),
    )
    .await;
    for rep in ["rep-1", "rep-2"] {
        put(
            &app,
            &revops,
            &format!("/v1/reps/{rep}"),
            json!({"queues": ["emea"]}),
        )
        .await;
    }
    (app, revops)
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) {
    let res = app.request(Method::PUT, path, token, Some(&body)).await;
    assert!(res.status().is_success(), "{path}: {}", res.status());
}

/// Creates a rule (dry run) and, when `live`, switches it live; returns its id.
pub async fn rule(
    app: &TestApp,
    revops: &str,
    condition: Value,
    action: Value,
    live: bool,
) -> String {
    let mut body = json!({"name": "r", "position": 10, "condition": condition, "action": action});
    let res = app.post("/v1/rules", revops, &body).await;
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    if live {
        body["mode"] = "live".into();
        put(app, revops, &format!("/v1/rules/{id}"), body).await;
    }
    id
}

/// A lead of queue `emea` without an owner, with `extra` merged in.
pub fn lead(id: &str, extra: Value) -> Value {
    let mut l = json!({
        "source": "hubspot",
        "external_id": id,
        "lead_type": "demo_request",
        "email": format!("{id}@example.com"),
        "queue": "emea",
    });
    for (k, v) in extra.as_object().unwrap() {
        l[k] = v.clone();
    }
    l
}
