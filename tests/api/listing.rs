use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app};

#[tokio::test]
async fn leads_are_filtered_and_paged_with_an_opaque_cursor() {
    let app = spawn_app().await;
    for i in 0..7 {
        let mut l = lead(&format!("c-{i}"));
        if i % 2 == 1 {
            l["source"] = json!("salesforce");
            l["lead_type"] = json!("pricing_request");
            l["owner"] = json!("rep-2");
            l["queue"] = json!("na");
        }
        app.ingest(&l).await;
    }
    let revops = app.key(Role::Revops, None).await;
    let mut seen = Vec::new();
    let mut path = "/v1/leads?source=hubspot&limit=3".to_string();
    loop {
        let page: Value = app.get(&path, &revops).await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            seen.push(item["external_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/leads?source=hubspot&limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["c-0", "c-2", "c-4", "c-6"]);
    for (query, expected) in [
        ("owner=rep-2", 3),
        ("queue=na", 3),
        ("lead_type=pricing_request", 3),
        ("state=routed", 7),
        ("state=accepted", 0),
        ("owner=rep-2&source=hubspot", 0),
    ] {
        let page: Value = app
            .get(&format!("/v1/leads?{query}"), &revops)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), expected, "{query}");
    }
}

#[tokio::test]
async fn bad_list_parameters_are_422_naming_each() {
    let app = spawn_app().await;
    let res = app
        .get(
            "/v1/leads?state=open&limit=501&cursor=zzz&colour=red",
            &app.admin,
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["state", "limit", "cursor", "colour"]);
    problem(
        app.get("/v1/leads?limit=0", &app.admin).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_lead_is_read_with_its_version_as_etag() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await;
    let res = app
        .get(
            &format!("/v1/leads/{}", l["id"].as_str().unwrap()),
            &app.admin,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"1\"");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, l);
    problem(
        app.get(&format!("/v1/leads/{}", uuid::Uuid::now_v7()), &app.admin)
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_nul_character_in_a_filter_is_a_422() {
    let app = spawn_app().await;
    let res = app.get("/v1/leads?owner=rep%00", &app.admin).await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["owner"]);
}
