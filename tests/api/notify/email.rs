//! Email through real lettre to the local SMTP sink: a routed lead's owner gets one message
//! with the subject, the lead's fields and the link in both the plain-text and the HTML part.

use serde_json::json;

use super::{
    email_transport, notifier, rows, smtp_sink::unfold_qp, smtp_sink::Sink, who_hears, Scripted,
    PUBLIC,
};
use crate::helpers::{lead, spawn_app_with};

#[tokio::test]
async fn a_routed_lead_emails_its_owner_with_both_parts_and_the_link() {
    let (sink, port) = Sink::start().await;
    // The app reads the same settings: they are valid, and announce email to the trigger.
    let app = spawn_app_with(|s| {
        s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        s.email_from = Some("Salgate <salgate@example.com>".into());
        s.smtp_allow_plaintext = true;
        s.public_url = Some(PUBLIC.into());
    })
    .await;
    who_hears(&app).await;
    let slack = Scripted::answering(vec![]);
    let n = notifier(&app, Some(slack.clone()), Some(email_transport(port))).await;
    let mut body = lead("mail-1");
    body["last_name"] = json!("Lovelace");
    body["title"] = json!("Head of Engineering");
    body["campaign"] = json!("q4-webinar");
    body["company"]["country"] = json!("GB");
    let id = app.ingest(&body).await["id"].as_str().unwrap().to_string();
    assert_eq!(
        rows(&app).await,
        vec![
            ("routed".into(), "email".into(), "sam@example.com".into()),
            ("routed".into(), "slack".into(), "U0SAM".into()),
        ]
    );
    let sent = n
        .drain(&tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(sent, 2);
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let m = &mails[0];
    assert_eq!(m.from, "salgate@example.com");
    assert_eq!(m.to, vec!["sam@example.com".to_string()]);
    let data = unfold_qp(&m.data);
    assert!(
        data.contains("Subject: New lead for you: Ada Lovelace (Analytical Engines)"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    let link = format!("{PUBLIC}/app/leads/{id}");
    let plain = part(&data, "text/plain");
    let html = part(&data, "text/html");
    for want in [
        "Head of Engineering",
        "Analytical Engines",
        "40",
        "GB",
        "hubspot",
        "q4-webinar",
        "rep-1",
        "emea",
        link.as_str(),
    ] {
        assert!(plain.contains(want), "plain part lacks {want}: {plain}");
        assert!(html.contains(want), "html part lacks {want}: {html}");
    }
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    // Slack got its own, and each row is sent with what the transport answered.
    assert_eq!(slack.got.lock().unwrap().len(), 1);
    let refs: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, external_ref FROM notifications ORDER BY channel")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        refs,
        vec![
            ("sent".into(), None),
            ("sent".into(), Some("U0SAM:1700000000.000100".into()))
        ]
    );
}

/// The body of the MIME part of `content_type`, up to the next boundary.
fn part<'a>(data: &'a str, content_type: &str) -> &'a str {
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in {data}"));
    let rest = &data[start..];
    let end = rest[2..]
        .find("\r\n--")
        .map(|i| i + 2)
        .unwrap_or(rest.len());
    &rest[..end]
}
