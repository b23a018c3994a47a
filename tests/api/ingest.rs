use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn ingest_creates_a_routed_lead_in_cycle_one_with_location_and_etag() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let res = app.post("/v1/leads", &token, &lead("c-1")).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(res.headers()["etag"], "\"1\"");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/leads/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(body["state"], "routed");
    assert_eq!(body["cycle"], 1);
    assert_eq!(body["owner"], "rep-1");
    assert_eq!(body["company"]["size"], 40);
    let id = body["id"].as_str().unwrap();
    let history = app.history(id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["kind"], "routed");
    assert_eq!(history[0]["cycle"], 1);
    assert!(history[0]["actor"].as_str().unwrap().starts_with("key:"));
    assert_eq!(history[0]["actor_role"], "ingest");
}

#[tokio::test]
async fn re_ingest_of_an_open_lead_is_200_and_changes_nothing() {
    let app = spawn_app().await;
    let first = app.ingest(&lead("c-1")).await;
    let token = app.key(Role::Ingest, None).await;
    let mut again = lead("c-1");
    again["title"] = json!("CTO");
    let res = app.post("/v1/leads", &token, &again).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], first["id"]);
    assert_eq!(body["cycle"], 1);
    assert_eq!(body["version"], 1);
    assert!(
        body["title"].is_null(),
        "an open lead is not modified by a duplicate MQL"
    );
    assert_eq!(app.history(first["id"].as_str().unwrap()).await.len(), 1);
    assert_eq!(app.count("leads").await, 1);
}

#[tokio::test]
async fn re_ingest_of_an_accepted_lead_is_200_without_a_new_cycle() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    assert_eq!(
        app.decide(id, "accept", &sdr, &json!({})).await.status(),
        200
    );
    let token = app.key(Role::Ingest, None).await;
    let res = app.post("/v1/leads", &token, &lead("c-1")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["state"], "accepted");
    assert_eq!(body["cycle"], 1);
}

#[tokio::test]
async fn re_ingest_of_a_recycled_lead_starts_cycle_two() {
    let app = spawn_app().await;
    let mut first = lead("c-1");
    first["attributes"] = json!({"form": "pricing", "campaign_touch": 1});
    let l = app.ingest(&first).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(id, "recycle", &sdr, &json!({"reason": "not_ready"}))
        .await;
    assert_eq!(res.status(), 200);
    let token = app.key(Role::Ingest, None).await;
    let mut again = lead("c-1");
    again["owner"] = json!("rep-2");
    again["attributes"] = json!({"campaign_touch": 2});
    let res = app.post("/v1/leads", &token, &again).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["id"], l["id"]);
    assert_eq!(body["state"], "routed");
    assert_eq!(body["cycle"], 2);
    assert_eq!(body["owner"], "rep-2");
    assert!(
        body["recycled_by"].is_null(),
        "decision fields are cleared for the new cycle"
    );
    // Read back: attributes merged (the new value wins, the old key stays), fields replaced.
    let stored = app.lead(id).await;
    assert_eq!(
        stored["attributes"],
        json!({"form": "pricing", "campaign_touch": 2})
    );
    assert_eq!(body["attributes"], stored["attributes"]);
    assert_eq!(
        (&stored["owner"], &stored["cycle"], &stored["state"]),
        (&json!("rep-2"), &json!(2), &json!("routed"))
    );
    let kinds: Vec<(String, i64)> = app
        .history(id)
        .await
        .iter()
        .map(|h| {
            (
                h["kind"].as_str().unwrap().into(),
                h["cycle"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("routed".into(), 1),
            ("recycled".into(), 1),
            ("routed".into(), 2)
        ]
    );
}

#[tokio::test]
async fn re_ingest_of_a_rejected_lead_starts_a_new_cycle() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(id, "reject", &sdr, &json!({"code": "out_of_icp"}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app.post("/v1/leads", &app.admin, &lead("c-1")).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["cycle"], 2);
    assert!(body["rejection_code"].is_null());
}

#[tokio::test]
async fn each_invalid_field_is_a_422_naming_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let cases: Vec<(&str, Value)> = vec![
        ("source", json!(null)),
        ("source", json!("Has Spaces")),
        ("external_id", json!("")),
        ("external_id", json!(1.5)),
        ("lead_type", json!(7)),
        ("email", json!("not-an-email")),
        ("first_name", json!(["Ada"])),
        ("title", json!("x".repeat(201))),
        ("company", json!("Acme")),
        ("company.domain", json!("not a domain")),
        ("company.size", json!(-1)),
        ("score", json!("high")),
        ("routed_at", json!("last tuesday")),
        ("routed_at", json!("2999-01-01T00:00:00Z")),
        ("routed_at", json!("0000-01-01T00:00:00Z")),
        ("routed_at", json!("1970-01-01T00:00:00Z")),
        ("attributes", json!([1, 2])),
        ("unexpected", json!("typo")),
    ];
    for (field, value) in cases {
        let mut body = lead("c-1");
        match field.split_once('.') {
            Some((outer, inner)) => body[outer][inner] = value.clone(),
            None => body[field] = value.clone(),
        }
        let res = app.post("/v1/leads", &token, &body).await;
        let p = problem(res, 422, "validation_failed").await;
        assert_eq!(fields(&p), [field], "{field} = {value}");
    }
    assert_eq!(app.count("leads").await, 0);
    assert_eq!(app.count("lead_history").await, 0);
}

#[tokio::test]
async fn several_bad_fields_are_all_named_in_one_response() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/leads",
            &app.admin,
            &json!({"email": "x", "score": "y"}),
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(
        fields(&p),
        ["source", "external_id", "lead_type", "email", "score"]
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_and_stores_nothing() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/leads"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body("{\"source\": \"hubspot\",")
        .send()
        .await
        .unwrap();
    problem(res, 400, "malformed_json").await;
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/v1/leads"))
        .bearer_auth(&app.admin)
        .header("content-type", "text/plain")
        .body("source=hubspot")
        .send()
        .await
        .unwrap();
    problem(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_a_413_and_stores_nothing() {
    let app = spawn_app().await;
    let mut body = lead("c-1");
    body["attributes"] = json!({"blob": "x".repeat(1024 * 1024)});
    let res = app.post("/v1/leads", &app.admin, &body).await;
    problem(res, 413, "payload_too_large").await;
    // Also with an Idempotency-Key, which buffers the body before the handler.
    let res = app
        .client
        .post(app.url("/v1/leads"))
        .bearer_auth(&app.admin)
        .header("idempotency-key", "big-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(res, 413, "payload_too_large").await;
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn a_lead_just_under_the_per_lead_cap_is_accepted() {
    let app = spawn_app().await;
    let mut body = lead("c-1");
    body["attributes"] = json!({"blob": ""});
    let rest = serde_json::to_vec(&body).unwrap().len();
    body["attributes"]["blob"] = json!("x".repeat(32 * 1024 - rest));
    assert_eq!(serde_json::to_vec(&body).unwrap().len(), 32 * 1024);
    let res = app
        .request(Method::POST, "/v1/leads", &app.admin, Some(&body))
        .await;
    assert_eq!(res.status(), 201);
    body["external_id"] = json!("c-22");
    let res = app
        .request(Method::POST, "/v1/leads", &app.admin, Some(&body))
        .await;
    problem(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn numeric_external_ids_are_kept_as_text_and_match_their_string_form() {
    let app = spawn_app().await;
    let mut body = lead("x");
    body["external_id"] = json!(12345);
    let first = app.ingest(&body).await;
    assert_eq!(first["external_id"], "12345");
    let res = app.post("/v1/leads", &app.admin, &lead("12345")).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn routed_at_defaults_to_the_injected_clock_and_may_lie_in_the_past() {
    let app = spawn_app().await;
    let at = "2026-02-02T09:30:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    app.clock.set(at);
    let l = app.ingest(&lead("c-1")).await;
    assert_eq!(l["routed_at"], "2026-02-02T09:30:00Z");
    let mut past = lead("c-2");
    past["routed_at"] = json!("2026-02-01T08:00:00-05:00");
    let l = app.ingest(&past).await;
    assert_eq!(l["routed_at"], "2026-02-01T13:00:00Z");
}

/// Issue: `a\u{202e}b` became a rep. `owner` and `queue` follow the id rule; CRM owner ids
/// (numbers, Salesforce's mixed case) and emails pass.
#[tokio::test]
async fn owner_and_queue_with_control_bidi_or_format_characters_are_refused() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    for (field, value) in [
        ("owner", "a\u{202e}b"),
        ("owner", "rep\u{200b}1"),
        ("owner", "rep 1"),
        ("owner", "rep\u{7}"),
        ("owner", "ré"),
        ("queue", "emea\u{2067}"),
        ("queue", "e\nmea"),
        ("source", "hub\u{ad}spot"),
        ("lead_type", "Demo_Request"),
    ] {
        let mut body = lead("c-1");
        body[field] = json!(value);
        let p = problem(
            app.post("/v1/leads", &token, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{field} = {value:?}");
    }
    assert_eq!(app.count("leads").await, 0);
    assert_eq!(app.count("reps").await, 0);
    for (i, owner) in ["12345678", "005Dn000002AbCdEFG", "sam.o@example.com"]
        .into_iter()
        .enumerate()
    {
        let mut body = lead(&format!("ok-{i}"));
        body["owner"] = json!(owner);
        assert_eq!(app.ingest(&body).await["owner"], owner);
    }
}

/// Issue: `routed_at` had no lower bound. Older than SALGATE_ROUTED_AT_MAX_AGE is a 422, in
/// one lead and in one item of a batch.
#[tokio::test]
async fn routed_at_older_than_the_configured_window_is_refused() {
    let app =
        spawn_app_with(|s| s.routed_at_max_age = std::time::Duration::from_secs(10 * 86_400)).await;
    app.clock.set("2026-02-20T12:00:00Z".parse().unwrap());
    let token = app.key(Role::Ingest, None).await;
    let mut old = lead("c-old");
    old["routed_at"] = json!("2026-02-10T11:59:59Z");
    let p = problem(
        app.post("/v1/leads", &token, &old).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["routed_at"]);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2026-02-10T12:00:00Z"),
        "{p}"
    );
    let mut edge = lead("c-edge");
    edge["routed_at"] = json!("2026-02-10T12:00:00Z");
    let res = app.post("/v1/leads", &token, &edge).await;
    assert_eq!(res.status(), 201);
    let mut batch_old = old.clone();
    batch_old["external_id"] = json!("c-old-2");
    let res = app
        .post(
            "/v1/leads/batch",
            &token,
            &json!({"leads": [batch_old, lead("c-new")]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let statuses: Vec<_> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [422, 201], "{body}");
    assert_eq!(app.count("leads").await, 2);
}

#[tokio::test]
async fn nul_characters_postgres_cannot_store_are_a_422_not_a_500() {
    let app = spawn_app().await;
    let mut body = lead("c-1");
    body["first_name"] = json!("Ada\u{0}");
    body["attributes"] = json!({"note": "x\u{0}y"});
    body["company"]["size"] = json!("1\u{0}0");
    let p = problem(
        app.post("/v1/leads", &app.admin, &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["first_name", "company.size", "attributes"]);
    assert_eq!(app.count("leads").await, 0);
}
