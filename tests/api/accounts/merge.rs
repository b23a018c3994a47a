//! Merging accounts: leads move, the merged id answers with the survivor, chains flatten,
//! bad merges are refused, and two crossing merges cannot both win.

use chrono::Duration;
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use super::{account_of, get_account, lead_of, snapshot};
use crate::helpers::{fields, problem, spawn_app, TestApp};

async fn account(app: &TestApp, n: &str) -> String {
    let body = lead_of(n, Some(n), Some(&format!("{n}.io")), &format!("a@{n}.io"));
    account_of(app, &body).await.as_str().unwrap().to_owned()
}

async fn merge(app: &TestApp, from: &str, into: &str) -> reqwest::Response {
    let revops = app.key(Role::Revops, None).await;
    app.post(
        &format!("/v1/accounts/{from}/merge"),
        &revops,
        &json!({"into": into}),
    )
    .await
}

#[tokio::test]
async fn a_merge_moves_the_leads_and_the_merged_id_answers_with_the_survivor() {
    let app = spawn_app().await;
    let (a, b, c) = (
        account(&app, "alpha").await,
        account(&app, "beta").await,
        account(&app, "gamma").await,
    );
    // Beta is owned and accepted; Alpha is neither.
    let revops = app.key(Role::Revops, None).await;
    let until = (app.clock.now() + Duration::days(10)).to_rfc3339();
    let res = app
        .post(
            &format!("/v1/accounts/{b}/accept"),
            &revops,
            &json!({"until": until, "owner": "rep-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = merge(&app, &b, &a).await;
    assert_eq!(res.status(), 200);
    let survivor: Value = res.json().await.unwrap();
    assert_eq!(survivor["id"], a);
    assert_eq!(survivor["lead_count"], 2);
    assert_eq!(
        survivor["owner"], "rep-1",
        "the survivor had no owner: it takes the merged one's"
    );
    assert_eq!(survivor["accepted"], true);
    assert_eq!(survivor["events"][0]["kind"], "absorbed");
    assert_eq!(get_account(&app, &b).await["id"], a);
    // Gamma into Beta is refused (Beta is merged); Alpha into Gamma flattens the chain: Beta
    // now points at Gamma too.
    let p = problem(merge(&app, &c, &b).await, 409, "account_merged").await;
    assert!(p["detail"].as_str().unwrap().contains(&a));
    let res = merge(&app, &a, &c).await;
    assert_eq!(res.status(), 200);
    let merged_into: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id::text, merged_into::text FROM accounts ORDER BY name")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        merged_into,
        [
            (a.clone(), Some(c.clone())),
            (b.clone(), Some(c.clone())),
            (c.clone(), None)
        ]
    );
    let g = get_account(&app, &b).await;
    assert_eq!(g["id"], c);
    assert_eq!(g["lead_count"], 3);
    let listed: Value = app.get("/v1/accounts", &revops).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    // A lead ingested for a merged account's key lands on the survivor.
    let again = account_of(&app, &lead_of("beta-2", None, None, "z@beta.io")).await;
    assert_eq!(again, c);
}

#[tokio::test]
async fn bad_merges_name_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let (a, b) = (account(&app, "alpha").await, account(&app, "beta").await);
    let before = snapshot(&app).await;
    let revops = app.key(Role::Revops, None).await;
    let path = format!("/v1/accounts/{a}/merge");
    for (body, field) in [
        (json!({}), "into"),
        (json!({"into": 5}), "into"),
        (json!({"into": "beta"}), "into"),
        (json!({"into": a}), "into"),
        (json!({"into": uuid::Uuid::now_v7()}), "into"),
        (json!({"into": b, "keep": "name"}), "keep"),
    ] {
        let p = problem(
            app.post(&path, &revops, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let unknown = format!("/v1/accounts/{}/merge", uuid::Uuid::now_v7());
    problem(
        app.post(&unknown, &revops, &json!({"into": b})).await,
        404,
        "not_found",
    )
    .await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    problem(
        app.post(&path, &sdr, &json!({"into": b})).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(snapshot(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_crossing_merges_one_wins_and_no_cycle_forms() {
    let app = spawn_app().await;
    for round in 0..8 {
        let a = account(&app, &format!("left{round}")).await;
        let b = account(&app, &format!("right{round}")).await;
        let (x, y) = tokio::join!(merge(&app, &a, &b), merge(&app, &b, &a));
        let statuses = [x.status().as_u16(), y.status().as_u16()];
        let mut sorted = statuses;
        sorted.sort();
        assert_eq!(sorted, [200, 409], "round {round}");
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT id::text, merged_into::text FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id",
        )
        .bind([a.parse::<uuid::Uuid>().unwrap(), b.parse().unwrap()])
        .fetch_all(&app.pool)
        .await
        .unwrap();
        let merged: Vec<_> = rows.iter().filter(|r| r.1.is_some()).collect();
        assert_eq!(merged.len(), 1, "exactly one is merged: {rows:?}");
        let survivor = if statuses[0] == 200 { &b } else { &a };
        assert_eq!(merged[0].1.as_ref(), Some(survivor));
        assert_eq!(get_account(&app, &a).await["lead_count"], 2);
    }
}
