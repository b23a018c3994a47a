//! Outbound webhooks against a real local HTTP receiver: signatures, retries, order, dead
//! letters, redelivery, a dispatcher dying mid-send, two dispatchers at once.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration as StdDuration,
};

use axum::{body::Bytes, http::HeaderMap, http::StatusCode, routing::post, Router};
use chrono::Duration;
use hmac::{Hmac, Mac};
use salgate::{
    db::webhook_dispatch::PauseAfter,
    domain::Role,
    jobs::dispatcher::{Dispatcher, LEASE},
    outbound::Policy,
};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::helpers::{fields, lead, problem, spawn_app, TestApp};

mod background;
mod events;
mod isolation;
mod safety;
mod timeout;

/// A CRM endpoint: records what it gets; can fail, be down, or hang.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    fail_next: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    arrived: Arc<Notify>,
    release: Arc<Notify>,
    /// Requests whose handler has ended, by answering or by being dropped.
    settled: Arc<tokio::sync::watch::Sender<usize>>,
}

/// Counts a handler as settled however it ends.
struct Settles(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for Settles {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n += 1);
    }
}

impl Receiver {
    pub(crate) async fn start() -> (Receiver, String) {
        let r = Receiver::default();
        let state = r.clone();
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let r = state.clone();
                async move {
                    let _settles = Settles(r.settled.clone());
                    if r.hang.load(Ordering::SeqCst) {
                        r.arrived.notify_one();
                        r.release.notified().await;
                    }
                    if r.down.load(Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    if r.fail_next
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    r.got.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    /// Waits (at most 10 s) until `n` requests have settled.
    async fn settled(&self, n: usize) {
        let mut settled = self.settled.subscribe();
        let done = settled.wait_for(|s| *s >= n);
        tokio::time::timeout(StdDuration::from_secs(10), done)
            .await
            .expect("the receiver's handlers settle")
            .unwrap();
    }

    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }
}

pub(crate) async fn subscribe(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .post(
            "/v1/webhook-subscriptions",
            &revops,
            &json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_string(),
        body["secret"].as_str().unwrap().to_string(),
    )
}

/// A dispatcher allowed to reach the local receivers, whose circuit breaker never trips.
pub(crate) fn dispatcher(app: &TestApp) -> Dispatcher {
    Dispatcher::new(app.pool.clone(), Arc::new(app.clock.clone()))
        .with_policy(Policy {
            allow_private: true,
        })
        .with_pause(PauseAfter {
            failures: u32::MAX,
            failing_for: StdDuration::from_secs(3600),
        })
}

/// Polls `done` every 10 ms until it holds or `within` has passed; returns whether it held.
pub(crate) async fn eventually(within: StdDuration, mut done: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if done() {
            return true;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    done()
}

/// The signature as docs/api.md §7 documents it, computed here independently of the service.
fn expected_signature(secret: &str, t: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn deliveries_are_signed_as_documented_and_carry_the_lead_after_each_change() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    let (_, secret) = subscribe(&app, &url, json!([])).await;
    let l = app.ingest(&lead("w-1")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let id = l["id"].as_str().unwrap();
    assert_eq!(
        app.decide(id, "accept", &sdr, &json!({})).await.status(),
        200
    );
    dispatcher(&app).drain(&Default::default()).await.unwrap();

    let got = receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for (headers, body) in &got {
        let sig = headers["salgate-signature"].to_str().unwrap();
        let (t, v1) = sig.split_once(',').unwrap();
        let t = t.strip_prefix("t=").unwrap();
        assert_eq!(
            v1.strip_prefix("v1=").unwrap(),
            expected_signature(&secret, t, body)
        );
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(headers["salgate-event-id"].to_str().unwrap(), v["id"]);
    }
    let bodies = receiver.bodies();
    assert_eq!(bodies[0]["type"], "lead.routed");
    assert_eq!(bodies[0]["data"]["lead"]["state"], "routed");
    assert_eq!(bodies[0]["data"]["lead"]["id"], id);
    assert_eq!(bodies[0]["data"]["lead"]["sla"]["status"], "on_track");
    assert_eq!(bodies[1]["type"], "lead.accepted");
    assert_eq!(bodies[1]["data"]["lead"]["state"], "accepted");
    assert_eq!(bodies[1]["data"]["entry"]["rep"], "rep-1");
    // Nothing is left to send.
    assert_eq!(dispatcher(&app).run_once().await.unwrap(), None);
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    let (sub, _) = subscribe(&app, &url, json!(["lead.routed"])).await;
    receiver.fail_next.store(3, Ordering::SeqCst);
    app.ingest(&lead("f-1")).await;
    let d = dispatcher(&app);
    for _ in 0..4 {
        d.drain(&Default::default()).await.unwrap();
        // Past any backoff of the first attempts (1 s, 2 s, 4 s with jitter).
        app.clock.advance(Duration::seconds(10));
    }
    assert_eq!(receiver.bodies().len(), 1);
    let admin = &app.admin;
    let list: Value = app
        .get(
            &format!("/v1/webhook-subscriptions/{sub}/deliveries"),
            admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let delivery = &list["items"][0];
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["attempts"], 4);
    let codes: Vec<&Value> = delivery["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(204)]);
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_in_order_per_lead() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    subscribe(&app, &url, json!([])).await;
    receiver.down.store(true, Ordering::SeqCst);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let d = dispatcher(&app);
    let mut ids = Vec::new();
    for i in 0..3 {
        let l = app.ingest(&lead(&format!("d-{i}"))).await;
        let id = l["id"].as_str().unwrap().to_string();
        d.drain(&Default::default()).await.unwrap();
        app.decide(&id, "accept", &sdr, &json!({})).await;
        let touch = format!("/v1/leads/{id}/touches");
        assert_eq!(
            app.post(&touch, &sdr, &json!({"channel": "call"}))
                .await
                .status(),
            201
        );
        d.drain(&Default::default()).await.unwrap();
        app.clock.advance(Duration::minutes(10));
        ids.push(id);
    }
    assert!(receiver.bodies().is_empty());
    receiver.down.store(false, Ordering::SeqCst);
    app.clock.advance(Duration::hours(2));
    d.drain(&Default::default()).await.unwrap();
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 9);
    for id in &ids {
        let kinds: Vec<&str> = bodies
            .iter()
            .filter(|b| b["data"]["lead"]["id"] == id.as_str())
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["lead.routed", "lead.accepted", "lead.touched"]);
    }
}

#[tokio::test]
async fn a_dead_delivery_is_redelivered_by_hand() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    let (sub, _) = subscribe(&app, &url, json!(["lead.routed"])).await;
    receiver.down.store(true, Ordering::SeqCst);
    app.ingest(&lead("x-1")).await;
    let d = dispatcher(&app);
    for _ in 0..40 {
        d.drain(&Default::default()).await.unwrap();
        app.clock.advance(Duration::hours(1));
    }
    let list: Value = app
        .get(
            &format!("/v1/webhook-subscriptions/{sub}/deliveries"),
            &app.admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let delivery = &list["items"][0];
    assert_eq!(delivery["status"], "dead");
    let id = delivery["id"].as_str().unwrap();
    receiver.down.store(false, Ordering::SeqCst);
    // Dead stays dead until someone acts.
    assert_eq!(d.run_once().await.unwrap(), None);
    let res = app
        .post(
            &format!("/v1/deliveries/{id}/redeliver"),
            &app.admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    d.drain(&Default::default()).await.unwrap();
    assert_eq!(receiver.bodies().len(), 1);
    let res = app
        .post(
            &format!("/v1/deliveries/{}/redeliver", uuid::Uuid::now_v7()),
            &app.admin,
            &json!({}),
        )
        .await;
    problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_dispatcher_killed_mid_delivery_leaves_the_event_to_be_sent_again() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    subscribe(&app, &url, json!(["lead.routed"])).await;
    app.ingest(&lead("k-1")).await;
    receiver.hang.store(true, Ordering::SeqCst);
    let d = Arc::new(dispatcher(&app));
    let running = {
        let d = d.clone();
        tokio::spawn(async move { d.run_once().await })
    };
    receiver.arrived.notified().await;
    // Killed while the receiver holds the request: its transaction is rolled back.
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    receiver.hang.store(false, Ordering::SeqCst);
    receiver.release.notify_one();
    // The released handler answers, or was dropped with the aborted request's connection.
    receiver.settled(1).await;
    // Its lease holds the delivery until it runs out, then it is due again.
    assert_eq!(d.run_once().await.unwrap(), None, "leased");
    app.clock
        .advance(Duration::seconds(LEASE.as_secs() as i64 + 1));
    // The aborted attempt may or may not have reached the receiver's log; the event is sent
    // again either way, never lost.
    let before = receiver.bodies().len();
    d.drain(&Default::default()).await.unwrap();
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), before + 1);
    let ids: std::collections::HashSet<&Value> = bodies.iter().map(|b| &b["id"]).collect();
    assert_eq!(ids.len(), 1, "the same event, at most repeated");
}

#[tokio::test]
async fn two_dispatchers_never_send_an_event_twice_and_keep_each_leads_order() {
    let app = spawn_app().await;
    let (receiver, url) = Receiver::start().await;
    subscribe(&app, &url, json!([])).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for i in 0..10 {
        let l = app.ingest(&lead(&format!("p-{i}"))).await;
        let id = l["id"].as_str().unwrap();
        app.decide(id, "reject", &sdr, &json!({"code": "duplicate"}))
            .await;
    }
    let (a, b) = (dispatcher(&app), dispatcher(&app));
    let cancel = Default::default();
    let (ta, tb) = tokio::join!(a.drain(&cancel), b.drain(&cancel));
    ta.unwrap();
    tb.unwrap();
    let delivered: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(delivered, 20);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 20);
    let ids: std::collections::HashSet<&Value> = bodies.iter().map(|b| &b["id"]).collect();
    assert_eq!(ids.len(), 20, "no event twice");
    for i in 0..10 {
        let ext = format!("p-{i}");
        let kinds: Vec<&str> = bodies
            .iter()
            .filter(|b| b["data"]["lead"]["external_id"] == ext.as_str())
            .map(|b| b["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["lead.routed", "lead.rejected"]);
    }
}

#[tokio::test]
async fn subscriptions_are_validated_listed_without_secret_and_deleted() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .post(
            "/v1/webhook-subscriptions",
            &revops,
            &json!({"url": "ftp://crm.example.com", "events": ["lead.exploded"]}),
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["url", "events"]);
    assert_eq!(
        p["errors"][0]["message"], "must be an absolute https:// URL",
        "{p}"
    );
    let (receiver, url) = Receiver::start().await;
    let (id, secret) = subscribe(&app, &url, json!(["lead.accepted"])).await;
    assert!(secret.starts_with("whsec_"));
    let list: Value = app
        .get("/v1/webhook-subscriptions", &revops)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], id.as_str());
    assert!(list["items"][0].get("secret").is_none());
    // Filtered: a routed lead sends nothing to a lead.accepted subscription; its acceptance
    // is sent.
    let l = app.ingest(&lead("s-1")).await;
    assert_eq!(dispatcher(&app).run_once().await.unwrap(), None);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let lead_id = l["id"].as_str().unwrap();
    let accepted = app.decide(lead_id, "accept", &sdr, &json!({})).await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(
        dispatcher(&app).run_once().await.unwrap(),
        Some(salgate::jobs::dispatcher::Sent::Delivered)
    );
    let got: Vec<Value> = receiver
        .bodies()
        .iter()
        .map(|b| b["type"].clone())
        .collect();
    assert_eq!(got, [json!("lead.accepted")]);
    let res = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/webhook-subscriptions/{id}"),
            &revops,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(
        app.get("/v1/webhook-subscriptions", &sdr).await,
        403,
        "forbidden",
    )
    .await;
}
