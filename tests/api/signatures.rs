//! Signed ingest (`SALGATE_INBOUND_SECRETS`): `Salgate-Signature` computed here from the
//! documented algorithm; one strict spelling; replays refused however the header is spelt;
//! batches holding a signed source's leads must be signed too.

use hmac::{Hmac, Mac};
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{lead, problem, spawn_app_with, TestApp};

const WEBFORM_SECRET: &str = "0123456789abcdef-webform";
const PARTNER_SECRET: &str = "0123456789abcdef-partner";

fn mac_hex(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `Salgate-Signature` as docs/api.md §7 documents it.
fn signature(t: i64, body: &str) -> String {
    format!("t={t},v1={}", mac_hex(WEBFORM_SECRET, t, body))
}

async fn signed_app() -> TestApp {
    spawn_app_with(|s| {
        s.inbound_secrets
            .insert("webform".into(), WEBFORM_SECRET.into());
    })
    .await
}

fn now_s(app: &TestApp) -> i64 {
    app.clock.now().timestamp()
}

fn webform_lead(external_id: &str) -> Value {
    let mut l = lead(external_id);
    l["source"] = json!("webform");
    l
}

async fn post_signed(
    app: &TestApp,
    path: &str,
    token: &str,
    body: &str,
    sig: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(sig) = sig {
        req = req.header("salgate-signature", sig);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_source_with_a_secret_must_sign_and_cannot_replay() {
    let app = signed_app().await;
    let token = app.key(Role::Ingest, None).await;
    let body = webform_lead("sig-1").to_string();
    let now = now_s(&app);
    let post = |sig: Option<String>| {
        let (app, token, body) = (&app, &token, &body);
        async move { post_signed(app, "/v1/leads", token, body, sig.as_deref()).await }
    };

    problem(post(None).await, 401, "signature_required").await;
    let stale = signature(now - 301, &body);
    problem(post(Some(stale)).await, 401, "signature_expired").await;
    let other_body = signature(now, &body.replace("sig-1", "sig-2"));
    problem(post(Some(other_body)).await, 401, "signature_mismatch").await;
    assert_eq!(app.count("leads").await, 0);

    let good = signature(now, &body);
    assert_eq!(post(Some(good.clone())).await.status(), 201);
    // The same signed request again is a replay.
    problem(post(Some(good)).await, 401, "signature_replayed").await;
    // Sources without a secret need no signature.
    let unsigned = lead("plain-1").to_string();
    let res = post_signed(&app, "/v1/leads", &token, &unsigned, None).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.count("leads").await, 2);
}

#[tokio::test]
async fn no_spelling_of_a_used_signature_gets_a_second_cycle() {
    let app = signed_app().await;
    let token = app.key(Role::Ingest, None).await;
    let body = webform_lead("sig-variants").to_string();
    let t = now_s(&app);
    let mac = mac_hex(WEBFORM_SECRET, t, &body);
    let res = post_signed(&app, "/v1/leads", &token, &body, Some(&signature(t, &body))).await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Rejected: ingesting the lead again would open a second cycle.
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(&id, "reject", &sdr, &json!({"code": "duplicate"}))
        .await;
    assert_eq!(res.status(), 200);
    let variants = [
        format!("t={t},v1={}", mac.to_uppercase()),
        format!("t=+{t},v1={mac}"),
        format!("t=0{t},v1={mac}"),
        format!("t={t}, v1={mac}"),
        format!("t={t} ,v1={mac}"),
        format!("t={t},v1={mac},v1={mac}"),
        format!("t={t},v1=00,v1={mac}"),
        format!("v1={mac},t={t}"),
    ];
    for v in &variants {
        let res = post_signed(&app, "/v1/leads", &token, &body, Some(v)).await;
        problem(res, 401, "signature_malformed").await;
    }
    let res = post_signed(&app, "/v1/leads", &token, &body, Some(&signature(t, &body))).await;
    problem(res, 401, "signature_replayed").await;
    let l = app.lead(&id).await;
    assert_eq!(
        (l["state"].as_str(), l["cycle"].as_i64()),
        (Some("rejected"), Some(1))
    );
}

#[tokio::test]
async fn a_batch_with_a_signed_sources_lead_must_be_signed() {
    let app = signed_app().await;
    let token = app.key(Role::Ingest, None).await;
    let body = json!({"leads": [lead("plain-1"), webform_lead("sig-b1")]}).to_string();
    let t = now_s(&app);
    let res = post_signed(&app, "/v1/leads/batch", &token, &body, None).await;
    problem(res, 401, "signature_required").await;
    // A source spelt with spaces is still that source.
    let spaced = body.replace("\"webform\"", "\" webform \"");
    let res = post_signed(&app, "/v1/leads/batch", &token, &spaced, None).await;
    problem(res, 401, "signature_required").await;
    let wrong = signature(t, "{}");
    let res = post_signed(&app, "/v1/leads/batch", &token, &body, Some(&wrong)).await;
    problem(res, 401, "signature_mismatch").await;
    assert_eq!(app.count("leads").await, 0);

    let good = signature(t, &body);
    let res = post_signed(&app, "/v1/leads/batch", &token, &body, Some(&good)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["created"], 2);
    let res = post_signed(&app, "/v1/leads/batch", &token, &body, Some(&good)).await;
    problem(res, 401, "signature_replayed").await;
    // Unsigned batches of unsigned sources are as before.
    let plain = json!({"leads": [lead("plain-2")]}).to_string();
    let res = post_signed(&app, "/v1/leads/batch", &token, &plain, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.count("leads").await, 3);
}

#[tokio::test]
async fn a_batch_mixing_signed_sources_with_different_secrets_is_a_422() {
    let app = spawn_app_with(|s| {
        s.inbound_secrets
            .insert("webform".into(), WEBFORM_SECRET.into());
        s.inbound_secrets
            .insert("partner".into(), PARTNER_SECRET.into());
    })
    .await;
    let token = app.key(Role::Ingest, None).await;
    let mut partner = lead("p-1");
    partner["source"] = json!("partner");
    let body = json!({"leads": [webform_lead("w-1"), partner]}).to_string();
    let sig = signature(now_s(&app), &body);
    let res = post_signed(&app, "/v1/leads/batch", &token, &body, Some(&sig)).await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "leads");
    assert_eq!(app.count("leads").await, 0);
}
