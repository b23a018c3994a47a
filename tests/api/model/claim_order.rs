//! Queues whose claims hand out first the lead the model expects sales to accept
//! (`claim_order: likely_accepted`), the earliest due first without a ready model, and never the
//! same lead to two claimers.

use reqwest::Method;
use salgate::{clock::Clock, domain::Role, service::model::Trained};
use serde_json::{json, Value};

use super::{
    history::{body, plant, planted_signal},
    train,
};
use crate::helpers::{fields, problem, spawn_app_with, TestApp};

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path, &app.admin, Some(&body))
        .await
}

/// Claim queue `id` in `order` with `reps` as members (of it only).
async fn pool(app: &TestApp, id: &str, order: &str, reps: &[&str]) {
    let res = put(
        app,
        &format!("/v1/queues/{id}"),
        json!({"strategy": "claim", "claim_order": order}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let queue: Value = res.json().await.unwrap();
    assert_eq!(queue["claim_order"], order);
    for rep in reps {
        let res = put(app, &format!("/v1/reps/{rep}"), json!({"queues": [id]})).await;
        assert_eq!(res.status(), 200);
    }
}

/// A lead of queue `queue` with no owner: an HR generalist due within the hour, or a VP of
/// sales due within a day.
fn waiting(app: &TestApp, ext: &str, queue: &str, hr: bool) -> Value {
    let title = if hr { "HR Generalist" } else { "VP Sales" };
    let mut lead = body(ext, title, 120, app.clock.now());
    lead.as_object_mut().unwrap().remove("owner");
    lead["queue"] = json!(queue);
    lead["lead_type"] = json!(if hr {
        "demo_request"
    } else {
        "content_download"
    });
    lead
}

/// The lead `token`'s rep claims from `queue`; `None` on 204.
async fn claim(app: &TestApp, queue: &str, token: &str) -> Option<Value> {
    let res = app
        .client
        .post(app.url(&format!("/v1/queues/{queue}/claim")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if res.status() == 204 {
        return None;
    }
    assert_eq!(res.status(), 200);
    Some(res.json().await.unwrap())
}

async fn trained(app: &TestApp) {
    plant(app, 0, 600, 11, planted_signal).await;
    assert!(matches!(
        train(app, 200).await,
        Trained::Stored { ready: true, .. }
    ));
}

#[tokio::test]
async fn a_likely_accepted_queue_hands_out_first_the_lead_sales_will_most_likely_accept() {
    let app = spawn_app_with(|s| s.cache_ttl = std::time::Duration::ZERO).await;
    trained(&app).await;
    pool(&app, "likely", "likely_accepted", &[]).await;
    pool(&app, "due", "due", &[]).await;
    let res = put(&app, "/v1/reps/r1", json!({"queues": ["likely", "due"]})).await;
    assert_eq!(res.status(), 200);
    for q in ["likely", "due"] {
        app.ingest(&waiting(&app, &format!("{q}-hr"), q, true))
            .await;
        app.ingest(&waiting(&app, &format!("{q}-sales"), q, false))
            .await;
    }
    let sdr = app.key(Role::Sdr, Some("r1")).await;
    let first = claim(&app, "likely", &sdr).await.unwrap();
    assert_eq!(
        first["external_id"], "likely-sales",
        "the HR lead is due sooner"
    );
    assert_eq!(first["owner"], "r1");
    let entry = app.history(first["id"].as_str().unwrap()).await;
    let assigned = entry.iter().find(|e| e["kind"] == "assigned").unwrap();
    assert_eq!(
        assigned["data"],
        json!({"via": "claim", "order": "likely_accepted"})
    );
    let second = claim(&app, "likely", &sdr).await.unwrap();
    assert_eq!(second["external_id"], "likely-hr");
    assert!(claim(&app, "likely", &sdr).await.is_none());
    // The same two leads in a queue claimed by due date: the sooner due first.
    let first = claim(&app, "due", &sdr).await.unwrap();
    assert_eq!(first["external_id"], "due-hr");
    let entry = app.history(first["id"].as_str().unwrap()).await;
    let assigned = entry.iter().find(|e| e["kind"] == "assigned").unwrap();
    assert_eq!(assigned["data"], json!({"via": "claim"}));
}

#[tokio::test]
async fn without_a_ready_model_a_likely_accepted_queue_claims_the_earliest_due() {
    let app = spawn_app_with(|s| s.cache_ttl = std::time::Duration::ZERO).await;
    pool(&app, "likely", "likely_accepted", &["r1"]).await;
    app.ingest(&waiting(&app, "sales", "likely", false)).await;
    app.ingest(&waiting(&app, "hr", "likely", true)).await;
    let sdr = app.key(Role::Sdr, Some("r1")).await;
    let first = claim(&app, "likely", &sdr).await.unwrap();
    assert_eq!(first["external_id"], "hr");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sdrs_claiming_at_once_from_a_likely_accepted_queue_never_get_the_same_lead() {
    let app = spawn_app_with(|s| s.cache_ttl = std::time::Duration::ZERO).await;
    trained(&app).await;
    let reps: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    let refs: Vec<&str> = reps.iter().map(String::as_str).collect();
    pool(&app, "likely", "likely_accepted", &refs).await;
    for i in 0..60 {
        app.ingest(&waiting(&app, &format!("w-{i}"), "likely", i % 2 == 0))
            .await;
    }
    let mut tokens = Vec::new();
    for r in &reps {
        tokens.push(app.key(Role::Sdr, Some(r)).await);
    }
    let app = &app;
    let claimers = tokens.iter().map(|token| async move {
        let mut got = Vec::new();
        while let Some(lead) = claim(app, "likely", token).await {
            got.push(lead["external_id"].as_str().unwrap().to_string());
        }
        got
    });
    let per_claimer = futures::future::join_all(claimers).await;
    let mut all: Vec<String> = per_claimer.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 60);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60, "no lead was claimed twice");
    assert!(per_claimer.iter().filter(|c| !c.is_empty()).count() > 1);
    let assigned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM lead_history WHERE kind = 'assigned'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(assigned, 60);
}

#[tokio::test]
async fn an_unknown_claim_order_is_refused_naming_the_field_and_an_absent_one_is_kept() {
    let app = spawn_app_with(|_| {}).await;
    pool(&app, "likely", "likely_accepted", &[]).await;
    let res = put(
        &app,
        "/v1/queues/likely",
        json!({"strategy": "round_robin", "claim_order": "fastest"}),
    )
    .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["claim_order"]);
    let res = put(&app, "/v1/queues/likely", json!({"strategy": "claim"})).await;
    let queue: Value = res.json().await.unwrap();
    assert_eq!(queue["claim_order"], "likely_accepted", "{queue}");
    let res = put(&app, "/v1/queues/new", json!({"strategy": "claim"})).await;
    let queue: Value = res.json().await.unwrap();
    assert_eq!(queue["claim_order"], "due");
    let strategy: String = sqlx::query_scalar("SELECT strategy FROM queues WHERE id = 'likely'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(strategy, "claim", "the refused PUT changed nothing");
}
