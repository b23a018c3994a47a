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

#[tokio::test]
async fn a_lead_over_32_kib_is_refused_naming_attributes_and_fails_alone_in_a_batch() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let with_attributes = |id: &str, bytes: usize| {
        let mut l = lead(id);
        l["attributes"] = json!({ "notes": "n".repeat(bytes) });
        l
    };
    // POST /v1/leads: 422 naming attributes, nothing stored.
    let res = app
        .post("/v1/leads", &ingest, &with_attributes("one", 33 * 1024))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["attributes"]);
    assert_eq!(app.count("leads").await, 0);
    // A batch: the 40 KiB item and the 15 MiB one fail alone, the others are stored.
    let items = vec![
        lead("ok-0"),
        with_attributes("big", 40 * 1024),
        with_attributes("fits", 30 * 1024),
        with_attributes("huge", 15 * 1024 * 1024),
    ];
    let body = post_batch(&app, &ingest, items).await;
    assert_eq!(statuses(&body), [201, 422, 201, 422]);
    for i in [1, 3] {
        let errors = &body["results"][i]["problem"]["errors"];
        assert_eq!(errors[0]["field"], "attributes", "{errors}");
    }
    assert_eq!(app.count("leads").await, 2);
    let stored: i32 = sqlx::query_scalar("SELECT max(octet_length(attributes::text)) FROM leads")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored < 32 * 1024, "{stored}");
}

#[tokio::test]
async fn batches_over_the_concurrency_limit_wait_then_get_503() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.batch_concurrency = 1;
        s.batch_wait = std::time::Duration::from_millis(300);
    })
    .await;
    let ingest = app.key(Role::Ingest, None).await;
    // Hold inserts into `leads`, so the first batch keeps its permit.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE leads IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let first = {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/v1/leads/batch"),
            ingest.clone(),
        );
        tokio::spawn(async move {
            // Over 15 MiB: it takes the gate's whole budget of one full-size batch.
            let leads: Vec<Value> = (0..620)
                .map(|i| {
                    let mut l = lead(&format!("a-{i}"));
                    l["attributes"] = json!({ "notes": "n".repeat(25_500) });
                    l
                })
                .collect();
            let body = json!({ "leads": leads });
            assert!(serde_json::to_vec(&body).unwrap().len() > 15 * 1024 * 1024);
            client.post(url).bearer_auth(token).json(&body).send().await
        })
    };
    wait_for_blocked_inserts(&app, 1, "the first batch never reached the insert").await;
    let second = app
        .client
        .post(app.url("/v1/leads/batch"))
        .bearer_auth(&ingest)
        .timeout(std::time::Duration::from_secs(5))
        .json(&json!({"leads": [lead("b-1")]}))
        .send()
        .await
        .expect("the second batch is answered, not left waiting");
    assert_eq!(second.headers()["retry-after"], "1");
    problem(second, 503, "unavailable").await;
    tx.commit().await.unwrap();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    post_batch(&app, &ingest, vec![lead("b-1")]).await;
    assert_eq!(app.count("leads").await, 621);
}

#[tokio::test(flavor = "multi_thread")]
async fn small_batches_share_the_budget_of_one_full_size_batch() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.batch_concurrency = 1;
        s.batch_wait = std::time::Duration::from_millis(300);
    })
    .await;
    let ingest = app.key(Role::Ingest, None).await;
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE leads IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    // Two small batches at once: both are admitted and both reach the insert.
    let batches: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|p| {
            let (client, url, token) = (
                app.client.clone(),
                app.url("/v1/leads/batch"),
                ingest.clone(),
            );
            tokio::spawn(async move {
                let body = json!({"leads": [lead(&format!("{p}-1"))]});
                client.post(url).bearer_auth(token).json(&body).send().await
            })
        })
        .collect();
    wait_for_blocked_inserts(
        &app,
        2,
        "the second small batch was not let in next to the first",
    )
    .await;
    tx.commit().await.unwrap();
    for b in batches {
        assert_eq!(b.await.unwrap().unwrap().status(), 200);
    }
    assert_eq!(app.count("leads").await, 2);
}

/// Waits (bounded) until `n` inserts into this test's `leads` wait on a lock.
async fn wait_for_blocked_inserts(app: &TestApp, n: i64, failure: &str) {
    let blocked = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE '%INSERT INTO leads%'";
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(blocked)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if waiting >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{failure}");
}
