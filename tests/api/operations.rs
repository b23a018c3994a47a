use serde_json::Value;

use crate::helpers::{problem, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.pool.close().await;
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    problem(res, 503, "unavailable").await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_docs_are_served() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/leads", "post"),
        ("/v1/leads", "get"),
        ("/v1/leads/{id}", "get"),
        ("/v1/leads/{id}/history", "get"),
        ("/v1/leads/{id}/accept", "post"),
        ("/v1/leads/{id}/reject", "post"),
        ("/v1/leads/{id}/recycle", "post"),
        ("/v1/rejection-codes", "post"),
        ("/v1/rejection-codes/{code}", "patch"),
        ("/v1/recycle-reasons", "get"),
        ("/v1/api-keys", "post"),
        ("/v1/api-keys/{id}", "delete"),
        ("/healthz", "get"),
        ("/readyz", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["schemas"]["Lead"].is_object());
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems_too() {
    let app = spawn_app().await;
    problem(
        app.get("/v1/nothing-here", &app.admin).await,
        404,
        "not_found",
    )
    .await;
    let res = app
        .request(reqwest::Method::DELETE, "/v1/leads", &app.admin, None)
        .await;
    problem(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(!res.headers()["x-request-id"].is_empty());
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "trace-me");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_open_queue() {
    let app = spawn_app().await;
    let lead = app.ingest(&crate::helpers::lead("m-1")).await;
    let missing = format!("/v1/leads/{}", uuid::Uuid::now_v7());
    for _ in 0..3 {
        assert_eq!(app.get(&missing, &app.admin).await.status(), 404);
    }
    let id = lead["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/leads/{id}"), &app.admin)
            .await
            .status(),
        200
    );
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
            .to_string()
    };
    // The route is the matched template, not the concrete path (the recorder is shared by
    // every test of this process, so counts are at least ours).
    let n: f64 = line(r#"http_requests_total{method="GET",route="/v1/leads/{id}",status="404"}"#)
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 3.0);
    line(
        r#"http_request_duration_seconds_bucket{method="GET",route="/v1/leads/{id}",status="200""#,
    );
    assert_eq!(
        line(r#"salgate_open_leads{sla_status="on_track"}"#),
        r#"salgate_open_leads{sla_status="on_track"} 1"#
    );
    line("salgate_sla_scan_lag_seconds");
    line(r#"salgate_leads_routed_total{result="new"}"#);
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.rate_limit_per_second = 0.01;
        s.rate_limit_burst = 2;
    })
    .await;
    let revops = app.key(salgate::domain::Role::Revops, None).await;
    for _ in 0..2 {
        assert_eq!(app.get("/v1/rejection-codes", &revops).await.status(), 200);
    }
    let res = app.get("/v1/rejection-codes", &revops).await;
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=100).contains(&retry), "retry after {retry}");
    problem(res, 429, "rate_limited").await;
    assert_eq!(
        app.get("/v1/rejection-codes", &app.admin).await.status(),
        200
    );
}

/// Issue: made-up methods were label values, so 3,000 requests grew `/metrics` to 100 MB.
#[tokio::test]
async fn made_up_methods_and_paths_add_no_metric_series() {
    let app = spawn_app().await;
    let series = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| l.starts_with("http_requests_total{"))
            .filter(|l| l.contains(r#"route="unmatched""#) || l.contains(r#"route="/healthz""#))
            .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| k.to_string()))
            .collect()
    };
    let metrics = || async {
        let res = app.client.get(app.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    };
    let before = series(&metrics().await);
    let mut tokens = Vec::new();
    for i in 0..300 {
        let token = uuid::Uuid::now_v7().simple().to_string()[20..].to_uppercase();
        let method = reqwest::Method::from_bytes(format!("X{token}").as_bytes()).unwrap();
        // Half to a real route (405), half to made-up paths (404).
        let path = if i % 2 == 0 {
            "/healthz".to_string()
        } else {
            format!("/made-up/{token}")
        };
        let res = app
            .client
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
        tokens.push(token);
    }
    let text = metrics().await;
    for t in &tokens {
        assert!(!text.contains(t.as_str()), "`{t}` became a label");
    }
    let after = series(&text);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(new.len() <= 3, "new series: {new:#?}");
    assert!(
        after
            .iter()
            .any(|s| s.contains(r#"method="_OTHER",route="unmatched""#)),
        "{after:#?}"
    );
}

/// The OpenAPI patterns of ids are the rule the server applies (one constant each).
#[tokio::test]
async fn id_fields_in_the_openapi_document_carry_the_slug_patterns() {
    use salgate::domain::slug::{ID_PATTERN, KEY_PATTERN};
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    for (schema, field, pattern) in [
        ("LeadInput", "source", KEY_PATTERN),
        ("LeadInput", "lead_type", KEY_PATTERN),
        ("LeadInput", "owner", ID_PATTERN),
        ("LeadInput", "queue", ID_PATTERN),
        ("AssignInput", "owner", ID_PATTERN),
        ("AcceptInput", "on_behalf_of", ID_PATTERN),
        ("NewApiKey", "rep", ID_PATTERN),
        ("NewReasonCode", "code", KEY_PATTERN),
        ("TouchInput", "channel", KEY_PATTERN),
        ("QueueInput", "calendar", KEY_PATTERN),
        ("PolicyInputDoc", "calendar", KEY_PATTERN),
    ] {
        let p = &schemas[schema]["properties"][field];
        assert_eq!(p["pattern"], pattern, "{schema}.{field}: {p}");
        assert_eq!(p["maxLength"], 64, "{schema}.{field}");
    }
    let queues = &schemas["RepInput"]["properties"]["queues"]["items"];
    assert_eq!(queues["pattern"], ID_PATTERN);
    assert_eq!(
        schemas["LeadInput"]["properties"]["owner"]["type"],
        serde_json::json!(["string", "null"])
    );
    let required = schemas["LeadInput"]["required"].as_array().unwrap();
    assert!(required.contains(&Value::from("source")));
    assert!(!required.contains(&Value::from("owner")), "{required:?}");
}
