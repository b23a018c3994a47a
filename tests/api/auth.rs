use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{lead, problem, spawn_app};

#[tokio::test]
async fn a_request_without_a_key_is_a_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/v1/leads")).send().await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    problem(res, 401, "unauthorized").await;
    let res = app
        .client
        .post(app.url("/v1/leads"))
        .json(&lead("c-1"))
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthorized").await;
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn an_unknown_key_is_a_401() {
    let app = spawn_app().await;
    problem(
        app.get("/v1/leads", "sg_not-a-real-key").await,
        401,
        "unauthorized",
    )
    .await;
    let res = app
        .client
        .get(app.url("/v1/leads"))
        .header("authorization", format!("Basic {}", app.admin))
        .send()
        .await
        .unwrap();
    problem(res, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_revoked_key_is_a_401() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/api-keys",
            &app.admin,
            &json!({"role": "revops", "name": "ops"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap();
    assert_eq!(app.get("/v1/leads", token).await.status(), 200);
    let res = app
        .request(
            Method::DELETE,
            &format!("/v1/api-keys/{}", created["id"].as_str().unwrap()),
            &app.admin,
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    problem(app.get("/v1/leads", token).await, 401, "unauthorized").await;
}

#[tokio::test]
async fn a_key_with_the_wrong_role_is_a_403() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let revops = app.key(Role::Revops, None).await;
    problem(app.get("/v1/leads", &ingest).await, 403, "forbidden").await;
    problem(
        app.post("/v1/leads", &sdr, &lead("c-1")).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        app.post("/v1/leads", &revops, &lead("c-1")).await,
        403,
        "forbidden",
    )
    .await;
    problem(app.get("/v1/api-keys", &revops).await, 403, "forbidden").await;
    let code = json!({"code": "bad_fit", "label": "Bad fit"});
    problem(
        app.post("/v1/rejection-codes", &sdr, &code).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.count("leads").await, 0);
    let l = app.ingest(&lead("c-2")).await;
    let id = l["id"].as_str().unwrap();
    let res = app
        .decide(id, "accept", &ingest, &json!({"on_behalf_of": "rep-1"}))
        .await;
    problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn an_sdr_acting_on_another_reps_lead_is_a_403_and_changes_nothing() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let other = app.key(Role::Sdr, Some("rep-2")).await;
    for (action, body) in [
        ("accept", json!({})),
        ("reject", json!({"code": "duplicate"})),
        ("recycle", json!({"reason": "not_ready"})),
    ] {
        problem(
            app.decide(id, action, &other, &body).await,
            403,
            "forbidden",
        )
        .await;
    }
    let own = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(id, "accept", &own, &json!({"on_behalf_of": "rep-2"}))
        .await;
    problem(res, 403, "forbidden").await;
    problem(
        app.get(&format!("/v1/leads/{id}"), &other).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        app.get(&format!("/v1/leads/{id}/history"), &other).await,
        403,
        "forbidden",
    )
    .await;
    let after = app.lead(id).await;
    assert_eq!(after["state"], "routed");
    assert_eq!(after["version"], 1);
    assert_eq!(app.history(id).await.len(), 1);
}

#[tokio::test]
async fn an_sdr_lists_only_its_own_leads() {
    let app = spawn_app().await;
    app.ingest(&lead("c-1")).await;
    let mut other = lead("c-2");
    other["owner"] = json!("rep-2");
    app.ingest(&other).await;
    let sdr = app.key(Role::Sdr, Some("rep-2")).await;
    let page: Value = app.get("/v1/leads", &sdr).await.json().await.unwrap();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["external_id"], "c-2");
    problem(
        app.get("/v1/leads?owner=rep-1", &sdr).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn api_keys_are_created_listed_without_tokens_and_sdr_keys_need_a_rep() {
    let app = spawn_app().await;
    let res = app
        .post("/v1/api-keys", &app.admin, &json!({"role": "sdr"}))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "rep");
    let res = app
        .post("/v1/api-keys", &app.admin, &json!({"role": "boss"}))
        .await;
    problem(res, 422, "validation_failed").await;
    let res = app
        .post(
            "/v1/api-keys",
            &app.admin,
            &json!({"role": "sdr", "rep": "rep-5", "name": "Sam"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert!(created["token"].as_str().unwrap().starts_with("sg_"));
    assert_eq!(created["rep"], "rep-5");
    let list: Value = app
        .get("/v1/api-keys", &app.admin)
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the bootstrap admin key and the new one");
    assert!(items
        .iter()
        .all(|k| k.get("token").is_none() && k.get("token_hash").is_none()));
    let one: Value = app
        .get(
            &format!("/v1/api-keys/{}", created["id"].as_str().unwrap()),
            &app.admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "Sam");
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_hash FROM api_keys WHERE name = 'Sam'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(
        stored,
        created["token"].as_str().unwrap().as_bytes(),
        "tokens are stored hashed"
    );
}
