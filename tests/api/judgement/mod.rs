//! What ingest finds out before storing a lead: possible duplicates, its account, and where
//! the account sends it (sticky queues, accepted accounts); re-routed leads passing over the
//! reps who decided them before.

mod deciders;
mod duplicates;
mod group;
mod plans;
mod sticky;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// A lead with only the fields these tests set.
fn person(external_id: &str, extra: Value) -> Value {
    let mut body = json!({
        "source": "hubspot",
        "external_id": external_id,
        "lead_type": "demo_request",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn put(app: &TestApp, path: &str, body: Value) {
    let res = app
        .request(Method::PUT, path, &app.admin, Some(&body))
        .await;
    assert_eq!(res.status(), 200, "PUT {path}");
}

/// A queue of `strategy` with `reps` as its members.
async fn queue(app: &TestApp, id: &str, strategy: &str, sticky: bool, reps: &[&str]) {
    put(
        app,
        &format!("/v1/queues/{id}"),
        json!({"strategy": strategy, "sticky_account": sticky}),
    )
    .await;
    for r in reps {
        put(app, &format!("/v1/reps/{r}"), json!({"queues": [id]})).await;
    }
}
