//! Webhooks are no SSRF: by default only https to public addresses (checked on the URL at
//! creation, and after DNS resolution when sending), and redirects are never followed.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axum::{http::StatusCode, response::IntoResponse, routing::post, Router};
use salgate::{domain::Role, jobs::dispatcher::Dispatcher};
use serde_json::{json, Value};

use super::{dispatcher, subscribe, Receiver};
use crate::helpers::{fields, lead, problem, spawn_app_with};

/// A TCP port that counts the connections it gets (and answers nothing).
async fn counting_port() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, n)
}

async fn deliveries(app: &crate::helpers::TestApp, sub: &str) -> Vec<Value> {
    let v: Value = app
        .get(
            &format!("/v1/webhook-subscriptions/{sub}/deliveries"),
            &app.admin,
        )
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn by_default_private_targets_and_plain_http_are_refused_at_creation_and_at_send() {
    let app = spawn_app_with(|s| s.webhook_allow_private_networks = false).await;
    let revops = app.key(Role::Revops, None).await;
    let (port, connections) = counting_port().await;
    for url in [
        format!("http://127.0.0.1:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        format!("https://[::1]:{port}/hook"),
        "https://169.254.169.254/latest/meta-data/".to_string(),
        "https://10.0.0.5/hook".to_string(),
        "https://0.0.0.0/hook".to_string(),
        "http://crm.example.com/hook".to_string(),
    ] {
        let res = app
            .post("/v1/webhook-subscriptions", &revops, &json!({ "url": url }))
            .await;
        let p = problem(res, 422, "validation_failed").await;
        assert_eq!(fields(&p), ["url"], "{url}: {p}");
    }
    assert_eq!(
        app.count("webhook_subscriptions").await,
        0,
        "nothing written"
    );

    // A name is resolved when sending: `localhost` is loopback, so nothing connects.
    let res = app
        .post(
            "/v1/webhook-subscriptions",
            &revops,
            &json!({ "url": format!("https://localhost:{port}/hook") }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let sub: Value = res.json().await.unwrap();
    let sub = sub["id"].as_str().unwrap();
    app.ingest(&lead("ssrf-1")).await;
    let strict = Dispatcher::new(app.pool.clone(), Arc::new(app.clock.clone()));
    strict.drain(&Default::default()).await.unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 0, "nothing connected");
    let d = &deliveries(&app, sub).await[0];
    assert_eq!(d["status"], "pending", "retried later, not dropped");
    assert_eq!(d["attempts"], 1);
    let error = d["attempt_log"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("localhost resolves only to refused addresses")
            && error.contains("private or loopback"),
        "{error}"
    );
}

#[tokio::test]
async fn the_private_network_setting_reaches_a_local_receiver_over_http() {
    let app = spawn_app_with(|s| s.webhook_allow_private_networks = true).await;
    let (receiver, url) = Receiver::start().await;
    assert!(url.starts_with("http://127.0.0.1:"));
    subscribe(&app, &url, json!([])).await;
    app.ingest(&lead("local-1")).await;
    dispatcher(&app).drain(&Default::default()).await.unwrap();
    assert_eq!(receiver.bodies().len(), 1);
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let app = spawn_app_with(|_| {}).await;
    let (target, target_url) = Receiver::start().await;
    // Answers 307 to the other receiver: a client following it would re-POST the signed body.
    let location = target_url.clone();
    let redirector = Router::new().route(
        "/hook",
        post(move || {
            let location = location.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", location)]).into_response() }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, redirector).await.unwrap() });
    let (sub, _) = subscribe(&app, &url, json!(["lead.routed"])).await;
    app.ingest(&lead("redirect-1")).await;
    dispatcher(&app).drain(&Default::default()).await.unwrap();
    assert!(target.bodies().is_empty(), "the redirect was followed");
    let d = &deliveries(&app, &sub).await[0];
    assert_eq!(
        (&d["status"], &d["attempts"]),
        (&json!("pending"), &json!(1))
    );
    assert_eq!(d["attempt_log"][0]["status_code"], 307);
    assert_eq!(d["last_error"], "receiver answered 307 Temporary Redirect");
}
