//! One subscriber that never answers stalls nobody: other subscriptions are sent to meanwhile,
//! deleting it does not wait, and one that keeps failing is paused until RevOps resumes it.

use std::{
    sync::{atomic::Ordering, Arc, Mutex},
    time::{Duration as StdDuration, Instant},
};

use chrono::Duration;
use salgate::{db::webhook_dispatch::PauseAfter, domain::Role};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::{dispatcher, eventually, subscribe, Receiver};
use crate::helpers::{lead, problem, spawn_app};

/// A receiver that accepts connections and never answers; returns its URL and the sockets.
async fn black_hole() -> (String, Arc<Mutex<Vec<tokio::net::TcpStream>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    (url, held)
}

#[tokio::test]
async fn a_receiver_that_never_answers_stalls_neither_others_nor_its_deletion() {
    let app = spawn_app().await;
    let (healthy, healthy_url) = Receiver::start().await;
    let (dead_url, held) = black_hole().await;
    let (dead, _) = subscribe(&app, &dead_url, json!([])).await;
    subscribe(&app, &healthy_url, json!([])).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for i in 0..20 {
        let l = app.ingest(&lead(&format!("iso-{i}"))).await;
        let id = l["id"].as_str().unwrap();
        app.decide(id, "accept", &sdr, &json!({})).await;
    }
    let cancel = CancellationToken::new();
    let running = tokio::spawn(dispatcher(&app).run(StdDuration::from_millis(20), cancel.clone()));
    let started = Instant::now();
    // Deleting the dead subscription while POSTs to it are in flight does not wait on them.
    let in_flight = eventually(StdDuration::from_secs(3), || {
        !held.lock().unwrap().is_empty()
    })
    .await;
    assert!(in_flight, "the dead one was tried");
    let deleting = Instant::now();
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/webhook-subscriptions/{dead}"),
            &app.admin,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert!(
        deleting.elapsed() < StdDuration::from_secs(1),
        "deleting took {:?}",
        deleting.elapsed()
    );
    // 40 events reach the healthy receiver well before the first 5 s timeout of the other.
    let left = StdDuration::from_secs(3).saturating_sub(started.elapsed());
    let arrived = eventually(left, || healthy.bodies().len() >= 40).await;
    assert!(arrived, "{} of 40 delivered", healthy.bodies().len());
    let bodies = healthy.bodies();
    for i in 0..20 {
        let ext = format!("iso-{i}");
        let kinds: Vec<&str> = bodies
            .iter()
            .filter(|b| b["data"]["lead"]["external_id"] == ext.as_str())
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["lead.routed", "lead.accepted"], "order of {ext}");
    }
    cancel.cancel();
    running.await.unwrap();
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        pending, 0,
        "the healthy ones delivered, the deleted one's dropped"
    );
}

#[tokio::test]
async fn a_subscription_that_keeps_failing_is_paused_keeps_its_deliveries_and_is_resumed() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    let (sub, _) = subscribe(&app, &url, json!(["lead.routed"])).await;
    receiver.down.store(true, Ordering::SeqCst);
    for i in 0..3 {
        app.ingest(&lead(&format!("cb-{i}"))).await;
    }
    let d = dispatcher(&app).with_pause(PauseAfter {
        failures: 5,
        failing_for: StdDuration::from_secs(60),
    });
    let path = format!("/v1/webhook-subscriptions/{sub}");
    let mut status = Value::Null;
    for _ in 0..10 {
        d.drain(&Default::default()).await.unwrap();
        app.clock.advance(Duration::seconds(40));
        status = app.get(&path, &app.admin).await.json().await.unwrap();
        if status["status"] == "paused" {
            break;
        }
    }
    assert_eq!(status["status"], "paused", "{status}");
    assert!(status["paused_at"].is_string());
    let reason = status["pause_reason"].as_str().unwrap();
    assert!(reason.contains("consecutive failed attempts"), "{reason}");
    // Paused: nothing is sent, nothing dropped, even once the receiver is back.
    receiver.down.store(false, Ordering::SeqCst);
    app.clock.advance(Duration::hours(2));
    d.drain(&Default::default()).await.unwrap();
    assert!(receiver.bodies().is_empty());
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(pending, 3);

    let resume = format!("{path}/resume");
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    problem(app.post(&resume, &sdr, &json!({})).await, 403, "forbidden").await;
    let revops = app.key(Role::Revops, None).await;
    let res = app.post(&resume, &revops, &json!({})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "active");
    assert!(body["paused_at"].is_null());
    d.drain(&Default::default()).await.unwrap();
    assert_eq!(receiver.bodies().len(), 3);
    let doc: Value = app
        .get("/openapi.json", &app.admin)
        .await
        .json()
        .await
        .unwrap();
    let documented = &doc["paths"]["/v1/webhook-subscriptions/{id}/resume"]["post"];
    assert!(documented.is_object(), "resume is in the OpenAPI document");
    let missing = format!("/v1/webhook-subscriptions/{}/resume", uuid::Uuid::now_v7());
    problem(
        app.post(&missing, &revops, &json!({})).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_lease_that_ran_out_is_claimed_again_and_the_late_attempt_changes_nothing() {
    use salgate::db::webhook_dispatch::{self as queue, AttemptResult};
    let app = spawn_app().await;
    let (_, url) = Receiver::start().await;
    let (sub, _) = subscribe(&app, &url, json!(["lead.routed"])).await;
    let sub: uuid::Uuid = sub.parse().unwrap();
    app.ingest(&lead("lease-1")).await;
    let now = salgate::clock::Clock::now(&app.clock);
    let lease = chrono::Duration::seconds(30);
    let first = queue::claim(&app.pool, sub, now, now + lease, 10)
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert!(queue::claim(&app.pool, sub, now, now + lease, 10)
        .await
        .unwrap()
        .is_empty());
    // The first claimant is gone; once its lease runs out the delivery is claimable again.
    let later = now + lease + Duration::seconds(1);
    let second = queue::claim(&app.pool, sub, later, later + lease, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    let ok = |at| AttemptResult {
        at,
        status_code: Some(204),
        error: None,
        duration_ms: 1,
        retry_at: None,
    };
    let pause = PauseAfter {
        failures: 10,
        failing_for: StdDuration::from_secs(600),
    };
    let late = queue::record(&app.pool, &first[0], &ok(later), pause)
        .await
        .unwrap();
    assert_eq!(late, "lost");
    let status: String = sqlx::query_scalar("SELECT status FROM webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "pending", "the late attempt did not settle it");
    let done = queue::record(&app.pool, &second[0], &ok(later), pause)
        .await
        .unwrap();
    assert_eq!(done, "delivered");
    assert_eq!(
        app.count("webhook_attempts").await,
        2,
        "both attempts recorded"
    );
    assert_eq!(app.count("webhook_heads").await, 0);
}

#[tokio::test]
async fn on_shutdown_the_dispatcher_stops_claiming_and_records_the_posts_in_flight() {
    let app = spawn_app().await;
    let (dead_url, held) = black_hole().await;
    subscribe(&app, &dead_url, json!(["lead.routed"])).await;
    // More than one lane's worth (32): some are left when the first POSTs time out.
    for i in 0..40 {
        app.ingest(&lead(&format!("stop-{i}"))).await;
    }
    let cancel = CancellationToken::new();
    let running = tokio::spawn(dispatcher(&app).run(StdDuration::from_millis(20), cancel.clone()));
    let in_flight = eventually(StdDuration::from_secs(3), || {
        !held.lock().unwrap().is_empty()
    })
    .await;
    assert!(in_flight);
    cancel.cancel();
    // The POSTs in flight end with their 5 s timeout; nothing new is claimed meanwhile.
    tokio::time::timeout(StdDuration::from_secs(8), running)
        .await
        .expect("the dispatcher stops once its POSTs in flight end")
        .unwrap();
    let tried = held.lock().unwrap().len() as i64;
    assert_eq!(
        app.count("webhook_attempts").await,
        tried,
        "each one recorded"
    );
    let leased: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_heads WHERE lease IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(leased, 0, "no lease left behind");
}
