//! `POST /v1/leads/batch`: per-item results, bad items fail alone, a lead is never stored twice.

use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app, TestApp};

async fn post_batch(app: &TestApp, token: &str, leads: Vec<Value>) -> Value {
    let res = app
        .post("/v1/leads/batch", token, &json!({ "leads": leads }))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn statuses(body: &Value) -> Vec<u64> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn a_batch_stores_the_good_items_and_names_what_is_wrong_with_the_bad_ones() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let mut bad = lead("b-2");
    bad["lead_type"] = Value::Null;
    bad["email"] = json!("not-an-email");
    let mut queued = lead("b-3");
    queued["owner"] = Value::Null;
    queued["queue"] = json!("nowhere");
    let body = post_batch(&app, &ingest, vec![lead("b-1"), bad, queued]).await;
    assert_eq!(statuses(&body), [201, 422, 201]);
    assert_eq!(
        (&body["created"], &body["unchanged"], &body["failed"]),
        (&json!(2), &json!(0), &json!(1))
    );
    let problem = &body["results"][1]["problem"];
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(fields(problem), ["lead_type", "email"]);
    assert_eq!(body["results"][0]["owner"], "rep-1");
    assert_eq!(body["results"][2]["owner"], Value::Null);
    assert_eq!(app.count("leads").await, 2);
    assert_eq!(app.count("lead_history").await, 2);
    // The stored lead is the same as one ingested alone: its SLA and routing note.
    let id = body["results"][0]["id"].as_str().unwrap();
    let stored = app.lead(id).await;
    assert_eq!(stored["sla"]["policy"], "demo_request");
    let history = app.history(id).await;
    assert_eq!(history[0]["data"]["assigned_by"], "crm");
    assert_eq!(history[0]["data"]["lead_type"], "demo_request");
}

#[tokio::test]
async fn a_repeated_lead_is_created_once_and_a_rejected_one_starts_a_new_cycle() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let body = post_batch(&app, &ingest, vec![lead("r-1"), lead("r-2"), lead("r-1")]).await;
    assert_eq!(statuses(&body), [201, 201, 200]);
    assert_eq!(body["results"][0]["id"], body["results"][2]["id"]);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let r2 = body["results"][1]["id"].as_str().unwrap();
    let res = app
        .decide(r2, "reject", &sdr, &json!({"code": "duplicate"}))
        .await;
    assert_eq!(res.status(), 200);
    let again = post_batch(&app, &ingest, vec![lead("r-1"), lead("r-2")]).await;
    assert_eq!(statuses(&again), [200, 201]);
    assert_eq!(again["results"][1]["cycle"], 2);
    assert_eq!(app.count("leads").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_batches_store_every_lead_exactly_once() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let leads: Vec<Value> = (0..200).map(|i| lead(&format!("c-{i}"))).collect();
    let posts = (0..4).map(|_| post_batch(&app, &ingest, leads.clone()));
    let bodies = futures::future::join_all(posts).await;
    let created: u64 = bodies.iter().map(|b| b["created"].as_u64().unwrap()).sum();
    let unchanged: u64 = bodies
        .iter()
        .map(|b| b["unchanged"].as_u64().unwrap())
        .sum();
    assert_eq!((created, unchanged), (200, 600));
    assert_eq!(app.count("leads").await, 200);
    assert_eq!(app.count("lead_history").await, 200);
}

#[tokio::test]
async fn a_batch_body_must_be_1_to_1000_leads_and_at_most_16_mib() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let too_many: Vec<Value> = (0..1001).map(|i| lead(&format!("x-{i}"))).collect();
    let res = app
        .post("/v1/leads/batch", &ingest, &json!({ "leads": too_many }))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["leads"]);
    let res = app
        .post(
            "/v1/leads/batch",
            &ingest,
            &json!({"leads": [], "extra": 1}),
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["leads", "extra"]);
    assert_eq!(app.count("leads").await, 0);

    // Over 1 MiB is fine for a batch (a single lead would get 413)…
    let padding = "x".repeat(3000);
    let big: Vec<Value> = (0..500)
        .map(|i| {
            let mut l = lead(&format!("big-{i}"));
            l["attributes"] = json!({ "notes": padding });
            l
        })
        .collect();
    let body = post_batch(&app, &ingest, big).await;
    assert_eq!(body["created"], 500);
    // …over 16 MiB is not.
    let huge = "y".repeat(17 * 1024 * 1024);
    let res = app
        .post(
            "/v1/leads/batch",
            &ingest,
            &json!({"leads": [{"attributes": {"notes": huge}}]}),
        )
        .await;
    problem(res, 413, "payload_too_large").await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .post("/v1/leads/batch", &sdr, &json!({"leads": [lead("s-1")]}))
        .await;
    problem(res, 403, "forbidden").await;
}
