//! The two halves together: a lead routed to a rep with a Slack id writes an outbox row in the
//! ingest's transaction, the dispatcher posts it through the real Slack transport (a 429 is
//! retried exactly after its `Retry-After`), and the owner's Accept button decides the lead.

use std::sync::Arc;

use chrono::Duration;
use salgate::{
    clock::Clock,
    jobs::notifier::{Notifier, Outcome},
    notify::{slack::SlackTransport, Transport},
    outbound::Policy,
};
use serde_json::json;

use super::{MockSlack, DM, TS};
use crate::helpers::{lead, spawn_app_with};

#[tokio::test]
async fn a_routed_lead_reaches_its_owner_in_slack_after_a_429_and_is_accepted_there() {
    let mock = MockSlack::start().await;
    let settings = mock.settings();
    let app = spawn_app_with(|s| s.slack = settings).await;
    let local = Policy {
        allow_private: true,
    };
    let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
    let slack = SlackTransport::from_settings(&mock.settings(), local, &app.address, clock.clone())
        .unwrap()
        .map(|t| Arc::new(t) as Arc<dyn Transport>);
    let notifier = Notifier::new(app.pool.clone(), clock, slack, None);
    notifier.announce().await.unwrap();
    let put = app
        .request(
            reqwest::Method::PUT,
            "/v1/reps/rep-1",
            &app.admin,
            Some(&json!({"name": "Sam", "slack_user_id": "USAM"})),
        )
        .await;
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());

    let routed = app.ingest(&lead("e2e-1")).await;
    assert_eq!(routed["owner"], "rep-1");
    let id = routed["id"].as_str().unwrap().to_string();

    // Slack is busy: the first post is answered 429, Retry-After 7 s.
    mock.rate_limit_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        notifier.run_once().await.unwrap(),
        Some(Outcome::RetryAfter)
    );
    app.clock.advance(Duration::seconds(6));
    assert_eq!(notifier.run_once().await.unwrap(), None, "not before 7 s");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(notifier.run_once().await.unwrap(), Some(Outcome::Sent));
    assert_eq!(notifier.run_once().await.unwrap(), None, "sent once");

    let posted = mock.calls("chat.postMessage");
    assert_eq!(posted.len(), 1, "{posted:?}");
    let body = &posted[0].body;
    assert_eq!(body["channel"], "USAM");
    let buttons: Vec<String> = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .map(|e| e["text"]["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(buttons, ["Accept", "Reject…", "Recycle…", "Open"], "{body}");
    let row: (String, Option<String>) =
        sqlx::query_as("SELECT status, external_ref FROM notifications WHERE lead_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(row, ("sent".into(), Some(format!("{DM}:{TS}"))));

    // The owner clicks Accept on that message.
    let accept = body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().unwrap().clone())
        .find(|e| e["text"]["text"] == "Accept")
        .unwrap();
    let payload = super::click(
        &mock,
        "USAM",
        accept["action_id"].as_str().unwrap(),
        accept["value"].as_str().unwrap(),
        "1700000001.000200",
    );
    let res = super::interact(&app, &payload).await;
    assert_eq!(res.status(), 200);
    let now = app.get(&format!("/v1/leads/{id}"), &app.admin).await;
    let now: serde_json::Value = now.json().await.unwrap();
    assert_eq!(now["state"], "accepted", "{now}");
}
