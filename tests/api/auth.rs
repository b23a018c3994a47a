use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{lead, problem, spawn_app, spawn_app_with, spawn_replica};

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

/// A well-formed token that no key has.
fn unknown_token() -> String {
    salgate::db::api_keys::generate_token()
}

#[tokio::test]
async fn bogus_tokens_are_refused_without_a_database_query() {
    let app = spawn_app_with(|s| s.unauthenticated_rate_limit_per_second = 0.0).await;
    let unknown = unknown_token();
    // Found unknown once (the one query), then remembered for a few seconds.
    problem(app.get("/v1/leads", &unknown).await, 401, "unauthorized").await;
    // Without the table, any lookup would fail with a 5xx: every 401 below is query-free.
    let hide = "ALTER TABLE api_keys RENAME TO api_keys_hidden";
    sqlx::query(hide).execute(&app.pool).await.unwrap();
    let malformed = [
        "sg_not-a-real-key".to_string(),
        format!("{unknown}x"),
        unknown.replacen("sg_", "sk_", 1),
        format!("sg_{}", "+".repeat(43)),
        "x".repeat(5000),
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..500 {
        // The remembered unknown token first: it is remembered for 5 s only.
        let token = if i < 50 {
            &unknown
        } else {
            &malformed[i % malformed.len()]
        };
        let status = app.get("/v1/leads", token).await.status().as_u16();
        *statuses.entry(status).or_insert(0) += 1;
    }
    let restore = "ALTER TABLE api_keys_hidden RENAME TO api_keys";
    sqlx::query(restore).execute(&app.pool).await.unwrap();
    assert_eq!(statuses, [(401, 500)].into(), "500 bogus tokens, no lookup");
    assert_eq!(app.get("/v1/leads", &app.admin).await.status(), 200);
}

/// Until the application's revocation listener is connected (bounded).
async fn wait_listening(app: &crate::helpers::TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let sql = "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
               WHERE datname = current_database() AND query LIKE 'LISTEN %salgate_keys%')";
    while !sqlx::query_scalar::<_, bool>(sql)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no revocation listener"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn failed_attempts_are_limited_per_client_address() {
    let app = spawn_app_with(|s| {
        s.unauthenticated_rate_limit_per_second = 0.5;
        s.unauthenticated_rate_limit_burst = 3;
    })
    .await;
    // The revocation listener clears the cache when it connects: let it, then cache the key.
    wait_listening(&app).await;
    assert_eq!(app.get("/v1/leads", &app.admin).await.status(), 200);
    for token in ["nope", &unknown_token(), &unknown_token()] {
        problem(app.get("/v1/leads", token).await, 401, "unauthorized").await;
    }
    let res = app.get("/v1/leads", &unknown_token()).await;
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    problem(res, 429, "rate_limited").await;
    let res = app.client.get(app.url("/v1/leads")).send().await.unwrap();
    problem(res, 429, "rate_limited").await;
    // A key this replica already knows still works; one it would have to look up waits too.
    assert_eq!(app.get("/v1/leads", &app.admin).await.status(), 200);
    let fresh = app.key(Role::Revops, None).await;
    problem(app.get("/v1/leads", &fresh).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn a_key_revoked_on_one_replica_is_refused_by_another_within_a_second() {
    // A TTL long enough that only the notice can explain a refusal within the test.
    let a = spawn_app_with(|s| s.cache_ttl = std::time::Duration::from_secs(60)).await;
    let b = spawn_replica(&a, |s| s.cache_ttl = std::time::Duration::from_secs(60)).await;
    let res = a
        .post("/v1/api-keys", &a.admin, &json!({"role": "revops"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap();
    // Cached on B.
    assert_eq!(b.get("/v1/leads", token).await.status(), 200);
    let path = format!("/v1/api-keys/{}", created["id"].as_str().unwrap());
    let res = a.request(Method::DELETE, &path, &a.admin, None).await;
    assert_eq!(res.status(), 204);
    let revoked = std::time::Instant::now();
    let deadline = revoked + std::time::Duration::from_secs(2);
    loop {
        let status = b.get("/v1/leads", token).await.status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            std::time::Instant::now() < deadline,
            "B still accepts the key 2 s after A revoked it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    eprintln!(
        "revocation reached the other replica in {:?}",
        revoked.elapsed()
    );
    assert_eq!(b.get("/v1/leads", &b.admin).await.status(), 200);
}

#[tokio::test]
async fn the_revocation_listener_clears_the_key_cache_whenever_it_connects() {
    use salgate::{
        http::auth::KeyCache, http::extract::Principal, jobs::key_listener::KeyListener,
    };
    let url = crate::helpers::fresh_database().await;
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let keys = std::sync::Arc::new(KeyCache::new(std::time::Duration::from_secs(60)));
    let cached = || {
        keys.put(
            b"hash".to_vec(),
            Principal {
                key_id: uuid::Uuid::now_v7(),
                role: Role::Admin,
                rep: None,
            },
        )
    };
    let gone = || async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while keys.get(b"hash").is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the cache was not cleared"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    // Cached before the listener connects: a revocation in that gap would be unheard.
    cached();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(KeyListener::new(&pool, keys.clone()).run(stop.clone()));
    gone().await;
    // Its connection is killed: it connects again, and clears again.
    let listening = "SELECT pid FROM pg_stat_activity \
                     WHERE datname = current_database() AND query LIKE 'LISTEN %salgate_keys%'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let pid: i32 = loop {
        if let Some(pid) = sqlx::query_scalar(listening)
            .fetch_optional(&pool)
            .await
            .unwrap()
        {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "no listener");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    cached();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&pool)
        .await
        .unwrap();
    gone().await;
    stop.cancel();
    task.await.unwrap();
}
