//! One-lead ingests judged in groups (src/service/judge/group.rs): judgements that arrive while
//! others are in flight wait and are made by one statement, each lead still getting its own
//! account and its own duplicates.

use std::time::Duration;

use salgate::{domain::Role, service::batching::MAX_IN_FLIGHT};
use serde_json::{json, Value};

use super::person;
use crate::{group_commit::wait_for_blocked, helpers::spawn_app};

fn at(ext: &str, domain: &str, email: &str) -> Value {
    person(
        ext,
        json!({"owner": "rep-1", "company": {"domain": domain}, "email": email}),
    )
}

#[tokio::test]
async fn judgements_that_arrive_while_others_are_in_flight_are_made_by_one_statement() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let stored = app
        .ingest(&at("stored", "stored.example", "jane@stored.example"))
        .await;
    // Every judgement creates or finds an account: holding inserts into `accounts` holds them.
    let mut lock = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE accounts IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let send = |body: Value| {
        let req = app
            .client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .json(&body);
        tokio::spawn(async move { req.send().await.unwrap() })
    };
    let mut requests = Vec::new();
    for i in 0..MAX_IN_FLIGHT {
        let ext = format!("leader-{i}");
        requests.push(send(at(
            &ext,
            &format!("{ext}.example"),
            &format!("x@{ext}.example"),
        )));
        wait_for_blocked(&app, i + 1, "%INSERT INTO accounts%").await;
    }
    // The group: five new domains, and one lead with the stored lead's mailbox.
    let mut group = Vec::new();
    for i in 0..5 {
        let ext = format!("g-{i}");
        group.push(send(at(
            &ext,
            &format!("{ext}.example"),
            &format!("x@{ext}.example"),
        )));
    }
    group.push(send(at("g-dup", "g-dup.example", "Jane@stored.example")));
    for _ in 0..400 {
        if app.group_judge.waiting() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.group_judge.waiting(), 6, "the six wait for one group");
    lock.commit().await.unwrap();

    let mut answers = Vec::new();
    for r in requests.into_iter().chain(group) {
        let res = r.await.unwrap();
        assert_eq!(res.status(), 201);
        answers.push(res.json::<Value>().await.unwrap());
    }
    let commits: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT xmin::text) FROM accounts WHERE domain LIKE 'g-%'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        commits, 1,
        "the group's six accounts were created by one statement"
    );
    // Each lead got its own judgement back: its own domain's account, its own duplicates.
    let own_account: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads l JOIN accounts a ON a.id = l.account_id \
         WHERE a.domain = l.company->>'domain'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(own_account, 1 + MAX_IN_FLIGHT as i64 + 6);
    for lead in &answers {
        let dups = lead["possible_duplicates"].as_array().unwrap();
        if lead["external_id"] == "g-dup" {
            assert_eq!(dups.len(), 1, "{lead}");
            assert_eq!(dups[0]["lead_id"], stored["id"]);
            assert_eq!(dups[0]["reason"], "email");
        } else {
            assert!(dups.is_empty(), "{lead}");
        }
    }
}
