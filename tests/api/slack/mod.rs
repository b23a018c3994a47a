//! Slack against a local mock of its Web API (axum on port 0, answering in the shapes of
//! Slack's documentation): the transport's messages, and signed interactions that decide
//! leads through the API's use case.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use salgate::{clock::Clock, domain::slack_signature, notify::slack::SlackSettings};
use serde_json::{json, Value};

use crate::helpers::{lead, spawn_app_with, TestApp};

mod end_to_end;
mod interactions;
mod signatures;
mod transport;

pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const TOKEN: &str = "xoxb-test-token";
/// The DM channel Slack answers with when a message is posted to a user id.
pub const DM: &str = "D0MOCKDM1";
pub const TS: &str = "1700000000.000100";

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Got {
    /// `chat.postMessage`, `chat.update`, `views.open`, or `respond` (a response_url).
    pub method: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Closed until opened: held calls wait for a permit.
struct Gate(tokio::sync::Semaphore);

impl Default for Gate {
    fn default() -> Self {
        Gate(tokio::sync::Semaphore::new(0))
    }
}

/// A local Slack: records every request; can answer 429 or an `ok: false` error.
#[derive(Clone, Default)]
pub struct MockSlack {
    got: Arc<Mutex<Vec<Got>>>,
    arrived: Arc<tokio::sync::Notify>,
    /// The next this many Web API calls answer 429 with `Retry-After: 7`.
    pub rate_limit_next: Arc<AtomicUsize>,
    /// The next call answers `{"ok": false, "error": <this>}`.
    pub error_next: Arc<Mutex<Option<String>>>,
    /// `chat.update` waits for [`MockSlack::release_updates`] before answering.
    pub hold_updates: Arc<std::sync::atomic::AtomicBool>,
    release: Arc<Gate>,
    pub base: String,
}

async fn web_api(
    State(mock): State<MockSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let limited = mock
        .rate_limit_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if limited {
        let json = Json(json!({"ok": false, "error": "ratelimited"}));
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")], json).into_response();
    }
    if method == "chat.update" && mock.hold_updates.load(Ordering::SeqCst) {
        let _permit = mock.release.0.acquire().await.unwrap();
    }
    let error = mock.error_next.lock().unwrap().take();
    mock.record(&method, headers, body.clone());
    if let Some(error) = error {
        return Json(json!({"ok": false, "error": error})).into_response();
    }
    let channel = match body["channel"].as_str() {
        Some(c) if c.starts_with('U') => DM.to_string(),
        Some(c) => c.to_string(),
        None => String::new(),
    };
    let answer = match method.as_str() {
        "chat.postMessage" => json!({"ok": true, "channel": channel, "ts": TS,
            "message": {"type": "message", "ts": TS, "text": body["text"], "blocks": body["blocks"]}}),
        "chat.update" => {
            json!({"ok": true, "channel": channel, "ts": body["ts"], "text": body["text"]})
        }
        "views.open" => json!({"ok": true, "view": {"id": "V0MOCK1", "type": "modal",
            "callback_id": body["view"]["callback_id"], "private_metadata": body["view"]["private_metadata"]}}),
        _ => json!({"ok": false, "error": "unknown_method"}),
    };
    Json(answer).into_response()
}

async fn respond(
    State(mock): State<MockSlack>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    mock.record("respond", headers, body);
    Json(json!({"ok": true})).into_response()
}

impl MockSlack {
    pub async fn start() -> MockSlack {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mock = MockSlack {
            base: format!("http://{}", listener.local_addr().unwrap()),
            ..MockSlack::default()
        };
        let app = Router::new()
            .route("/api/{method}", post(web_api))
            .route("/respond/{id}", post(respond))
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        mock
    }

    fn record(&self, method: &str, headers: HeaderMap, body: Value) {
        let got = Got {
            method: method.to_string(),
            headers,
            body,
        };
        self.got.lock().unwrap().push(got);
        self.arrived.notify_waiters();
    }

    /// Lets held `chat.update` calls answer.
    pub fn release_updates(&self) {
        self.release.0.add_permits(100);
    }

    /// The requests of `method` so far.
    pub fn calls(&self, method: &str) -> Vec<Got> {
        let got = self.got.lock().unwrap();
        got.iter().filter(|g| g.method == method).cloned().collect()
    }

    /// Waits (at most 5 s) until `n` requests of `method` have arrived; returns them.
    pub async fn wait_for(&self, method: &str, n: usize) -> Vec<Got> {
        let waited = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let arrived = self.arrived.notified();
                let calls = self.calls(method);
                if calls.len() >= n {
                    return calls;
                }
                arrived.await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| {
            panic!(
                "{n} {method} requests did not arrive: {:?}",
                self.calls(method)
            )
        })
    }

    pub fn response_url(&self) -> String {
        format!("{}/respond/1", self.base)
    }

    pub fn settings(&self) -> SlackSettings {
        SlackSettings {
            bot_token: Some(TOKEN.into()),
            signing_secret: Some(SECRET.into()),
            api_url: format!("{}/api", self.base),
        }
    }
}

/// An app talking to `mock`, with lead `external_id` routed to rep-1 ("Sam", Slack user
/// `USAM`); rep-2 ("Kim", `UKIM`) exists too. Returns the app and the lead.
pub async fn app_with_lead(mock: &MockSlack) -> (TestApp, Value) {
    let settings = mock.settings();
    let app = spawn_app_with(|s| s.slack = settings).await;
    let lead = app.ingest(&lead("slack-1")).await;
    let other = app
        .ingest(&json!({"source": "hubspot", "external_id": "slack-2",
        "lead_type": "demo_request", "owner": "rep-2", "queue": "emea"}))
        .await;
    assert_eq!(other["owner"], "rep-2");
    for (rep, name, user) in [("rep-1", "Sam", "USAM"), ("rep-2", "Kim", "UKIM")] {
        sqlx::query("UPDATE reps SET name = $2, slack_user_id = $3 WHERE id = $1")
            .bind(rep)
            .bind(name)
            .bind(user)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    (app, lead)
}

/// A `block_actions` payload: `user` clicked button `action` carrying `value`.
pub fn click(mock: &MockSlack, user: &str, action: &str, value: &str, action_ts: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": user, "username": "sam", "name": "sam", "team_id": "T0MOCK"},
        "api_app_id": "A0MOCK", "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": TS, "channel_id": DM, "is_ephemeral": false},
        "trigger_id": "12345.98765.abcd2358fdea",
        "team": {"id": "T0MOCK", "domain": "acme"},
        "channel": {"id": DM, "name": "directmessage"},
        "message": {"type": "message", "ts": TS, "text": "New lead for you"},
        "response_url": mock.response_url(),
        "actions": [{"type": "button", "action_id": action, "block_id": "salgate_decide",
                     "text": {"type": "plain_text", "text": action}, "value": value,
                     "action_ts": action_ts}],
    })
}

/// The form Slack posts for `payload`.
pub fn form(payload: &Value) -> String {
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

/// POSTs `body` to the interactivity endpoint signed with `secret` at unix time `t`.
pub async fn send(app: &TestApp, body: &str, secret: &str, t: i64) -> reqwest::Response {
    let signature = slack_signature::header(secret, t, body.as_bytes());
    send_signed(app, body, &t.to_string(), &signature).await
}

pub async fn send_signed(app: &TestApp, body: &str, t: &str, signature: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/integrations/slack/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", t)
        .header("x-slack-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Sends `payload` signed now (the app's clock) with the right secret.
pub async fn interact(app: &TestApp, payload: &Value) -> reqwest::Response {
    send(app, &form(payload), SECRET, app.clock.now().timestamp()).await
}

/// The button value for `lead`'s current cycle.
pub fn value_of(lead: &Value) -> String {
    format!("{}:{}", lead["id"].as_str().unwrap(), lead["cycle"])
}

/// The history entries of `kind`.
pub async fn entries(app: &TestApp, id: &str, kind: &str) -> Vec<Value> {
    let history = app.history(id).await;
    history.into_iter().filter(|e| e["kind"] == kind).collect()
}
