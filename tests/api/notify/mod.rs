//! Notifications to people: who hears what (the outbox trigger), the dispatcher (retries,
//! Retry-After, dead letters, leases), and email through real lettre to a local SMTP sink.
//! The Slack side is a scripted [`Transport`] here: Slack lies outside the product.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use salgate::{
    jobs::notifier::Notifier,
    notify::{
        email::{EmailSettings, EmailTransport},
        Delivered, Notification, Transport,
    },
};
use serde_json::{json, Value};

use crate::helpers::TestApp;

mod dispatch;
mod email;
mod smtp_sink;
mod who;

/// Stands for Slack: answers from a script (then `Sent`), records what it was given.
#[derive(Default)]
pub(crate) struct Scripted {
    answers: Mutex<VecDeque<Delivered>>,
    pub got: Mutex<Vec<Notification>>,
}

impl Scripted {
    pub fn answering(answers: Vec<Delivered>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers: Mutex::new(answers.into()),
            got: Mutex::default(),
        })
    }
}

impl Transport for Scripted {
    fn deliver<'a>(
        &'a self,
        n: &'a Notification,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Delivered> + Send + 'a>> {
        self.got.lock().unwrap().push(n.clone());
        let answer = self.answers.lock().unwrap().pop_front();
        Box::pin(async move {
            answer.unwrap_or_else(|| Delivered::Sent {
                external_ref: Some(format!("{}:1700000000.000100", n.recipient)),
            })
        })
    }
}

/// The base of lead links in the tests' emails.
pub(crate) const PUBLIC: &str = "https://salgate.example.com";

/// A real lettre transport to the sink on `port`, plain SMTP (the tests' setting).
pub(crate) fn email_transport(port: u16) -> Arc<dyn Transport> {
    let s = EmailSettings {
        url: format!("smtp://127.0.0.1:{port}"),
        from: "Salgate <salgate@example.com>".into(),
        allow_plaintext: true,
    };
    Arc::new(EmailTransport::new(&s, PUBLIC).unwrap())
}

/// A dispatcher on the app's clock with these transports, announced to the trigger.
pub(crate) async fn notifier(
    app: &TestApp,
    slack: Option<Arc<dyn Transport>>,
    email: Option<Arc<dyn Transport>>,
) -> Notifier {
    let n = Notifier::new(app.pool.clone(), Arc::new(app.clock.clone()), slack, email);
    n.announce().await.unwrap();
    n
}

pub(crate) async fn put(app: &TestApp, path: &str, body: Value) -> Value {
    let res = app
        .request(reqwest::Method::PUT, path, &app.admin, Some(&body))
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_success(), "PUT {path}: {status} {body}");
    body
}

/// Rep `rep-1` with a Slack id and an email, in queue `emea` (round robin) whose channel
/// and list hear its unassigned leads and breaches.
pub(crate) async fn who_hears(app: &TestApp) {
    put(
        app,
        "/v1/queues/emea",
        json!({"strategy": "round_robin", "slack_channel": "C0EMEA",
               "notify_emails": ["emea-leads@example.com"]}),
    )
    .await;
    put(
        app,
        "/v1/reps/rep-1",
        json!({"name": "Sam", "email": "sam@example.com", "slack_user_id": "U0SAM",
               "queues": ["emea"]}),
    )
    .await;
}

/// The outbox rows: (kind, channel, recipient), sorted.
pub(crate) async fn rows(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT kind, channel, recipient FROM notifications ORDER BY kind, channel, recipient",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// `GET /v1/notifications` with `query`.
pub(crate) async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let res = app
        .get(&format!("/v1/notifications{query}"), &app.admin)
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}
