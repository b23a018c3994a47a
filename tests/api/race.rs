//! "Exactly one winner" rules, raced with real concurrent requests against a real database.

use futures::future::join_all;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{lead, spawn_app};

fn tally(statuses: &[u16]) -> (usize, usize, usize) {
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let conflict = statuses.iter().filter(|s| **s == 409).count();
    (ok, conflict, statuses.len() - ok - conflict)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_decisions_on_one_lead_have_exactly_one_winner() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let revops = app.key(Role::Revops, None).await;
    let requests = (0..50).map(|i| {
        let (action, body) = match i % 3 {
            0 => ("accept", json!({})),
            1 => ("reject", json!({"code": "duplicate"})),
            _ => ("recycle", json!({"reason": "not_ready"})),
        };
        let token = if i % 5 == 0 { &revops } else { &sdr };
        let mut body = body;
        if i % 5 == 0 {
            body["on_behalf_of"] = json!("rep-1");
        }
        let req = app
            .client
            .post(app.url(&format!("/v1/leads/{id}/{action}")))
            .bearer_auth(token)
            .json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(requests).await;
    let (ok, conflict, other) = tally(&statuses);
    assert_eq!((ok, conflict + other), (1, 49), "{statuses:?}");
    // Losers get 409, except a note-less recycle after an accept won: reversing an accept
    // needs a note, so that one is a 422. Nothing else.
    let won_accept = statuses.iter().position(|s| *s == 200).unwrap() % 3 == 0;
    for (i, s) in statuses.iter().enumerate() {
        let expected = if i % 3 == 2 && won_accept { 422 } else { 409 };
        assert!(
            *s == 200 || *s == expected,
            "request {i}: {s} ({statuses:?})"
        );
    }
    let decisions: Vec<Value> = app
        .history(id)
        .await
        .into_iter()
        .filter(|h| h["kind"] != "routed")
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["cycle"], 1);
    let lead_now = app.lead(id).await;
    assert_eq!(lead_now["state"], decisions[0]["kind"]);
    assert_eq!(lead_now["version"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_accepts_with_the_same_if_match_have_exactly_one_winner() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let requests = (0..50).map(|_| {
        let req = app
            .client
            .post(app.url(&format!("/v1/leads/{id}/accept")))
            .bearer_auth(&sdr)
            .header("if-match", "\"1\"")
            .json(&json!({}));
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 412),
        "{statuses:?}"
    );
    assert_eq!(app.history(id).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingests_of_one_new_lead_create_it_once() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let requests = (0..30).map(|_| {
        let req = app
            .client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .json(&lead("c-1"));
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        29,
        "{statuses:?}"
    );
    assert_eq!(app.count("leads").await, 1);
    assert_eq!(app.count("lead_history").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_re_ingests_of_a_recycled_lead_open_exactly_one_new_cycle() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(id, "recycle", &sdr, &json!({"reason": "not_ready"}))
        .await;
    assert_eq!(res.status(), 200);
    let token = app.key(Role::Ingest, None).await;
    let requests = (0..30).map(|_| {
        let req = app
            .client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .json(&lead("c-1"));
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(requests).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        29,
        "{statuses:?}"
    );
    let lead_now = app.lead(id).await;
    assert_eq!(lead_now["cycle"], 2);
    let routed = app
        .history(id)
        .await
        .iter()
        .filter(|h| h["kind"] == "routed")
        .count();
    assert_eq!(routed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uses_of_one_idempotency_key_run_the_request_once() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let requests = (0..20).map(|i| {
        let req = app
            .client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .header("idempotency-key", "once")
            .json(&lead("c-1"));
        async move { (i, req.send().await.unwrap().status().as_u16()) }
    });
    let statuses: Vec<u16> = join_all(requests)
        .await
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    // The first claims the key; the rest either replay its 201 or are told it is in flight.
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201));
    assert_eq!(app.count("leads").await, 1);
    assert_eq!(app.count("lead_history").await, 1);
}

/// The per-key limiter under requests handled in parallel: a burst of 10 (refilling once in
/// 100 s) lets exactly 10 of 50 concurrent requests through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_on_one_key_get_exactly_its_burst() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.rate_limit_per_second = 0.01;
        s.rate_limit_burst = 10;
    })
    .await;
    let revops = app.key(Role::Revops, None).await;
    let requests = (0..50).map(|_| {
        let req = app
            .client
            .get(app.url("/v1/rejection-codes"))
            .bearer_auth(&revops);
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(requests).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, limited), (10, 40), "{statuses:?}");
}
