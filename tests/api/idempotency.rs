use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{lead, problem, spawn_app};

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_first_response() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let send = || {
        app.client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .header("idempotency-key", "crm-delivery-1")
            .json(&lead("c-1"))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(
        second.status(),
        201,
        "the replay repeats the first status, not 200"
    );
    assert_eq!(second.headers()["location"], location);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(app.count("leads").await, 1);
    assert_eq!(app.count("lead_history").await, 1);
}

#[tokio::test]
async fn reusing_an_idempotency_key_with_a_different_body_is_a_422() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
    };
    assert_eq!(send(lead("c-1")).await.unwrap().status(), 201);
    problem(
        send(lead("c-2")).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.count("leads").await, 1);
}

#[tokio::test]
async fn a_replayed_decision_repeats_its_200_instead_of_a_409() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let send = || {
        app.client
            .post(app.url(&format!("/v1/leads/{id}/reject")))
            .bearer_auth(&sdr)
            .header("idempotency-key", "reject-once")
            .json(&json!({"code": "duplicate"}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(app.history(id).await.len(), 2);
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_api_key() {
    let app = spawn_app().await;
    let a = app.key(Role::Ingest, None).await;
    let b = app.key(Role::Ingest, None).await;
    for (token, ext) in [(&a, "c-1"), (&b, "c-2")] {
        let res = app
            .client
            .post(app.url("/v1/leads"))
            .bearer_auth(token)
            .header("idempotency-key", "same")
            .json(&lead(ext))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    assert_eq!(app.count("leads").await, 2);
}

#[tokio::test]
async fn a_failed_request_is_replayed_as_the_same_failure() {
    let app = spawn_app().await;
    let send = || {
        app.client
            .post(app.url("/v1/leads"))
            .bearer_auth(&app.admin)
            .header("idempotency-key", "bad-1")
            .json(&json!({"source": "hubspot"}))
            .send()
    };
    problem(send().await.unwrap(), 422, "validation_failed").await;
    problem(send().await.unwrap(), 422, "validation_failed").await;
}

#[tokio::test]
async fn a_batch_over_1_mib_with_an_idempotency_key_gets_the_batch_limit() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    // 500 leads of ~3.2 KB: 1.6 MB, over the 1 MiB of other routes, under the batch's 16 MiB.
    let padding = "x".repeat(3000);
    let leads: Vec<Value> = (0..500)
        .map(|i| {
            let mut l = lead(&format!("big-{i}"));
            l["attributes"] = json!({ "notes": padding });
            l
        })
        .collect();
    let body = json!({ "leads": leads });
    assert!(serde_json::to_vec(&body).unwrap().len() > 1_600_000);
    let send = || {
        app.client
            .post(app.url("/v1/leads/batch"))
            .bearer_auth(&token)
            .header("idempotency-key", "big-batch")
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["created"], 500);
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // A single lead over 1 MiB is still refused, key or not.
    let huge = json!({"source": "x", "notes": "y".repeat(1024 * 1024)});
    let res = app
        .client
        .post(app.url("/v1/leads"))
        .bearer_auth(&token)
        .header("idempotency-key", "huge-lead")
        .json(&huge)
        .send()
        .await
        .unwrap();
    problem(res, 413, "payload_too_large").await;
    assert_eq!(app.count("leads").await, 500);
}

/// Retries `send` until it stops answering 409 `idempotency_in_flight` (bounded).
async fn until_not_in_flight<F, Fut>(send: F) -> reqwest::Response
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    for _ in 0..100 {
        let res = send().await;
        if res.status() != 409 {
            return res;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the key stayed in flight");
}

#[tokio::test]
async fn a_request_whose_client_left_finishes_and_its_retry_gets_the_stored_response() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap().to_string();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let accept = |timeout_ms: u64| {
        app.client
            .post(app.url(&format!("/v1/leads/{id}/accept")))
            .bearer_auth(&sdr)
            .header("idempotency-key", "accept-once")
            .timeout(std::time::Duration::from_millis(timeout_ms))
            .json(&json!({}))
            .send()
    };
    // Hold the lead's row so the accept blocks; the client gives up and disconnects.
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM leads WHERE id = $1::uuid FOR UPDATE")
        .bind(&id)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert!(accept(500).await.unwrap_err().is_timeout());
    // While it still runs, a retry is told so.
    problem(accept(5000).await.unwrap(), 409, "idempotency_in_flight").await;
    tx.commit().await.unwrap();
    let res = until_not_in_flight(|| async { accept(5000).await.unwrap() }).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["state"], "accepted");
    let kinds: Vec<Value> = app
        .history(&id)
        .await
        .iter()
        .map(|h| h["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("routed"), json!("accepted")], "ran once");
}

#[tokio::test]
async fn an_in_flight_key_whose_holder_is_gone_is_taken_over_after_its_lease() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let send = || {
        app.client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .header("idempotency-key", "crashed")
            .json(&lead("c-1"))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 201);
    // As if the replica handling it had died mid-request: claimed, no response stored.
    sqlx::query("UPDATE idempotency_keys SET status = NULL, headers = NULL, body = NULL")
        .execute(&app.pool)
        .await
        .unwrap();
    problem(send().await.unwrap(), 409, "idempotency_in_flight").await;
    app.clock
        .advance(salgate::db::idempotency::LEASE - chrono::Duration::seconds(1));
    problem(send().await.unwrap(), 409, "idempotency_in_flight").await;
    app.clock.advance(chrono::Duration::seconds(2));
    let res = send().await.unwrap();
    assert_eq!(res.status(), 200, "runs again: the lead exists, unchanged");
    assert!(res.headers().get("idempotent-replayed").is_none());
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("leads").await, 1);
}

#[tokio::test]
async fn an_idempotency_key_is_replayed_for_24_hours_then_runs_again() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .header("idempotency-key", "daily")
            .json(&body)
            .send()
    };
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    assert_eq!(send(lead("c-1")).await.unwrap().status(), 201);
    // One second before the 24 h are up: still the first response, still bound to its body.
    app.clock.set("2026-03-03T09:59:59Z".parse().unwrap());
    let replay = send(lead("c-1")).await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    problem(
        send(lead("c-2")).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    // One second after: the key is free again and the request runs.
    app.clock.set("2026-03-03T10:00:01Z".parse().unwrap());
    let fresh = send(lead("c-2")).await.unwrap();
    assert_eq!(fresh.status(), 201);
    assert!(fresh.headers().get("idempotent-replayed").is_none());
    let fresh: Value = fresh.json().await.unwrap();
    assert_eq!(fresh["external_id"], "c-2");
    assert_eq!(app.count("leads").await, 2);
    // …and the new first response is what is replayed from then on.
    let replay = send(lead("c-2")).await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(app.count("leads").await, 2);
}
