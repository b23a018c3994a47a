//! A forged, stale or replayed signature is 401 problem+json and changes nothing.

use salgate::clock::Clock;

use super::{app_with_lead, click, entries, form, send, send_signed, value_of, MockSlack, SECRET};
use crate::helpers::problem;

#[tokio::test]
async fn forged_stale_and_replayed_signatures_are_refused_and_change_nothing() {
    let mock = MockSlack::start().await;
    let (app, lead) = app_with_lead(&mock).await;
    let id = lead["id"].as_str().unwrap();
    let body = form(&click(&mock, "USAM", "accept", &value_of(&lead), "1.1"));
    let now = app.clock.now().timestamp();

    let forged = send(&app, &body, "not-the-signing-secret", now).await;
    problem(forged, 401, "signature_mismatch").await;
    let tampered = body.replace("USAM", "UKIM");
    let signature = salgate::domain::slack_signature::header(SECRET, now, body.as_bytes());
    problem(
        send_signed(&app, &tampered, &now.to_string(), &signature).await,
        401,
        "signature_mismatch",
    )
    .await;
    problem(
        send_signed(&app, &body, &now.to_string(), "v0=00").await,
        401,
        "signature_malformed",
    )
    .await;
    problem(
        send_signed(&app, &body, "", "").await,
        401,
        "signature_malformed",
    )
    .await;
    let unsigned = app
        .client
        .post(app.url("/v1/integrations/slack/interactions"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    problem(unsigned, 401, "signature_required").await;

    // Signed at `now`, received 301 s later by the app's clock.
    let signed_at = now;
    app.clock.advance(chrono::Duration::seconds(301));
    problem(
        send(&app, &body, SECRET, signed_at).await,
        401,
        "signature_expired",
    )
    .await;
    assert_eq!(app.lead(id).await["state"], "routed", "nothing changed");

    // Within the tolerance it is good once; the same request again is a replay.
    let fresh = app.clock.now().timestamp() - 299;
    assert_eq!(send(&app, &body, SECRET, fresh).await.status(), 200);
    assert_eq!(app.lead(id).await["state"], "accepted");
    let version = app.lead(id).await["version"].clone();
    problem(
        send(&app, &body, SECRET, fresh).await,
        401,
        "signature_replayed",
    )
    .await;
    assert_eq!(
        app.lead(id).await["version"],
        version,
        "the replay changed nothing"
    );
    assert_eq!(entries(&app, id, "accepted").await.len(), 1);
    mock.wait_for("chat.update", 1).await;
    assert!(
        mock.calls("respond").is_empty(),
        "a refused request is not answered in Slack"
    );
}

#[tokio::test]
async fn without_a_signing_secret_the_endpoint_does_not_exist() {
    let app = crate::helpers::spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/integrations/slack/interactions"))
        .body("payload=%7B%7D")
        .send()
        .await
        .unwrap();
    problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_body_over_256_kib_is_refused_before_its_signature_is_checked() {
    let mock = MockSlack::start().await;
    let (app, _) = app_with_lead(&mock).await;
    let body = format!("payload={}", "x".repeat(256 * 1024));
    let res = send(&app, &body, SECRET, app.clock.now().timestamp()).await;
    problem(res, 413, "payload_too_large").await;
}
