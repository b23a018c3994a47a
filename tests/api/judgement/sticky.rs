use std::collections::HashSet;

use futures::future::join_all;
use salgate::{clock::Clock, domain::Role};
use serde_json::json;

use super::{person, put, queue};
use crate::helpers::spawn_app;

fn at(domain: &str, id: &str, queue: &str) -> serde_json::Value {
    person(
        id,
        json!({"email": format!("{id}@{domain}"), "queue": queue}),
    )
}

#[tokio::test]
async fn concurrent_leads_of_one_account_in_a_sticky_queue_all_go_to_one_owner() {
    let app = spawn_app().await;
    queue(
        &app,
        "abm",
        "round_robin",
        true,
        &["r-1", "r-2", "r-3", "r-4"],
    )
    .await;
    let token = app.key(Role::Ingest, None).await;
    let requests = (0..24).map(|i| {
        let body = at("acme.io", &format!("a-{i}"), "abm");
        let (app, token) = (&app, &token);
        async move {
            let res = app.post("/v1/leads", token, &body).await;
            assert_eq!(res.status(), 201);
            res.json::<serde_json::Value>().await.unwrap()
        }
    });
    let leads = join_all(requests).await;
    let owners: HashSet<&str> = leads.iter().map(|l| l["owner"].as_str().unwrap()).collect();
    assert_eq!(owners.len(), 1, "one owner wins: {owners:?}");
    // Another account is routed by the strategy as usual.
    let other = app.ingest(&at("globex.io", "g-1", "abm")).await;
    assert!(other["owner"].is_string());
    let history = app.history(leads[1]["id"].as_str().unwrap()).await;
    let note = &history[0]["data"];
    assert!(
        note["sticky_account"] == true || note["assigned_by"] == "round_robin",
        "{note}"
    );
}

#[tokio::test]
async fn a_queue_that_is_not_sticky_spreads_one_accounts_leads() {
    let app = spawn_app().await;
    queue(&app, "rr", "round_robin", false, &["r-1", "r-2"]).await;
    let a = app.ingest(&at("acme.io", "n-1", "rr")).await;
    let b = app.ingest(&at("acme.io", "n-2", "rr")).await;
    assert_ne!(a["owner"], b["owner"]);
}

#[tokio::test]
async fn an_owner_revops_set_on_the_account_takes_its_leads_unless_away() {
    let app = spawn_app().await;
    queue(&app, "ll", "least_loaded", true, &["r-1", "r-2"]).await;
    put(&app, "/v1/reps/r-9", json!({"queues": []})).await;
    let first = app.ingest(&at("initech.io", "o-1", "ll")).await;
    let account = first["account_id"].as_str().unwrap().to_owned();
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/accounts/{account}"),
            &app.admin,
            Some(&json!({"owner": "r-9"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let second = app.ingest(&at("initech.io", "o-2", "ll")).await;
    assert_eq!(second["owner"], "r-9", "the set owner, though not a member");
    // Away: the owner of the account's newest open lead is next in line.
    put(
        &app,
        "/v1/reps/r-9",
        json!({"queues": [], "away_until": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let third = app.ingest(&at("initech.io", "o-3", "ll")).await;
    assert_eq!(third["owner"], first["owner"]);
}

#[tokio::test]
async fn leads_of_an_accepted_account_go_to_its_owner_and_are_marked() {
    let app = spawn_app().await;
    queue(&app, "pool", "claim", false, &["r-1"]).await;
    put(&app, "/v1/reps/r-7", json!({"queues": []})).await;
    let first = app.ingest(&at("umbrella.io", "u-1", "pool")).await;
    assert!(first["owner"].is_null(), "a claim queue assigns nobody");
    let account = first["account_id"].as_str().unwrap().to_owned();
    let until = app.clock.now() + chrono::Duration::days(30);
    let res = app
        .post(
            &format!("/v1/accounts/{account}/accept"),
            &app.admin,
            &json!({"until": until, "owner": "r-7"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let token = app.key(Role::Ingest, None).await;
    let second = app.ingest(&at("umbrella.io", "u-2", "pool")).await;
    assert_eq!(second["owner"], "r-7");
    let history = app.history(second["id"].as_str().unwrap()).await;
    assert_eq!(history[0]["data"]["account_accepted"], true);
    // A batch routes it the same way.
    let res = app
        .post(
            "/v1/leads/batch",
            &token,
            &json!({"leads": [at("umbrella.io", "u-3", "pool"), person("u-4", json!({"email": "x@umbrella.io"}))]}),
        )
        .await;
    let items: serde_json::Value = res.json().await.unwrap();
    for item in items["results"].as_array().unwrap() {
        assert_eq!(item["owner"], "r-7", "{item}");
    }
    // Once the acceptance has ended, the queue decides again.
    app.clock.set(until + chrono::Duration::seconds(1));
    let later = app.ingest(&at("umbrella.io", "u-5", "pool")).await;
    assert!(later["owner"].is_null());
}
