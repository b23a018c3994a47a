//! `SlackTransport` posts a notification as a Block Kit message with buttons, and maps
//! Slack's answers (429, `ok: false`) to what the dispatcher does next.

use std::{sync::Arc, time::Duration};

use salgate::{
    clock::Clock,
    notify::{
        slack::SlackTransport, Channel, Delivered, Notification, NotificationKind, Transport,
    },
    outbound::Policy,
};
use serde_json::{json, Value};

use super::{app_with_lead, MockSlack, DM, TOKEN, TS};

fn notification(lead: &Value, recipient: &str, due: &str) -> Notification {
    Notification {
        id: uuid::Uuid::now_v7(),
        event_id: uuid::Uuid::now_v7(),
        kind: NotificationKind::Routed,
        channel: Channel::Slack,
        recipient: recipient.into(),
        lead_id: lead["id"].as_str().unwrap().parse().unwrap(),
        cycle: lead["cycle"].as_i64().unwrap() as i32,
        attempts: 0,
        payload: json!({
            "name": "Ada Lovelace", "title": "CTO", "company": "Analytical Engines",
            "company_size": 40, "country": "GB", "source": "hubspot", "campaign": "q4-demo",
            "owner": "rep-1", "queue": "emea", "sla_due_at": due,
        }),
    }
}

fn transport(mock: &MockSlack, clock: Arc<dyn Clock>, link_base: &str) -> SlackTransport {
    let local = Policy {
        allow_private: true,
    };
    SlackTransport::from_settings(&mock.settings(), local, link_base, clock)
        .unwrap()
        .expect("a bot token makes a transport")
}

#[tokio::test]
async fn a_notification_posts_the_leads_summary_with_its_buttons() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let now = app.clock.now();
    let due = (now + chrono::Duration::minutes(90)).to_rfc3339();
    let slack = transport(&mock, Arc::new(app.clock.clone()), &app.address);
    let sent = slack.deliver(&notification(&lead, "USAM", &due)).await;
    assert_eq!(
        sent,
        Delivered::Sent {
            external_ref: Some(format!("{DM}:{TS}"))
        }
    );

    let posted = mock.calls("chat.postMessage");
    assert_eq!(posted.len(), 1);
    let post = &posted[0];
    assert_eq!(post.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(post.body["channel"], "USAM");
    let text = post.body["blocks"].to_string();
    for want in [
        "New lead for you",
        "*Ada Lovelace*, CTO at *Analytical Engines*",
        "*Company size*\\n40",
        "*Country*\\nGB",
        "*Campaign*\\nq4-demo",
        "SLA due in 1 h 30 min",
    ] {
        assert!(text.contains(want), "{want} not in {text}");
    }
    let actions = post.body["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap()
        .clone();
    let buttons = actions["elements"].as_array().unwrap();
    let labels: Vec<&str> = buttons
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Accept", "Reject…", "Recycle…", "Open"]);
    let value = format!("{}:1", lead["id"].as_str().unwrap());
    assert!(
        buttons.iter().all(|b| b["value"] == value.as_str()),
        "{buttons:?}"
    );
    let open = format!("{}/app/leads/{}", app.address, lead["id"].as_str().unwrap());
    assert_eq!(buttons[3]["url"], open);
    // The lead page the button opens exists (it redirects to sign in without a session).
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&open)
        .send()
        .await
        .unwrap();
    assert_ne!(page.status().as_u16(), 404);
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_and_errors_are_sorted() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let slack = transport(&mock, Arc::new(app.clock.clone()), &app.address);
    let n = notification(&lead, "C0QUEUE", "2030-01-01T00:00:00Z");
    mock.rate_limit_next
        .store(1, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        slack.deliver(&n).await,
        Delivered::RetryAfter(Duration::from_secs(7))
    );
    let sent = slack.deliver(&n).await;
    assert_eq!(
        sent,
        Delivered::Sent {
            external_ref: Some(format!("C0QUEUE:{TS}"))
        }
    );
    assert_eq!(
        mock.calls("chat.postMessage").len(),
        1,
        "the 429 posted nothing"
    );
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for result in ["rate_limited", "ok"] {
        let line =
            format!("salgate_slack_calls_total{{method=\"chat.postMessage\",result=\"{result}\"}}");
        assert!(metrics.contains(&line), "{line} in /metrics");
    }

    for (error, permanent) in [
        ("channel_not_found", true),
        ("invalid_auth", true),
        ("internal_error", false),
    ] {
        *mock.error_next.lock().unwrap() = Some(error.into());
        match slack.deliver(&n).await {
            Delivered::Rejected(e) if permanent => assert!(e.contains(error), "{e}"),
            Delivered::Failed(e) if !permanent => assert!(e.contains(error), "{e}"),
            other => panic!("{error}: {other:?}"),
        }
    }
}
