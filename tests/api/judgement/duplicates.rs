use salgate::domain::Role;
use serde_json::{json, Value};

use super::person;
use crate::helpers::{fields, problem, spawn_app};

fn found(lead: &Value) -> Vec<(String, String)> {
    lead["possible_duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let id = d["lead_id"].as_str().unwrap().to_owned();
            (id, d["reason"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_same_mailbox_written_differently_is_a_possible_duplicate() {
    let app = spawn_app().await;
    let first = app
        .ingest(&person(
            "d-1",
            json!({"email": "jane.doe@gmail.com", "owner": "rep-1"}),
        ))
        .await;
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(found(&first), vec![]);
    for (i, variant) in ["JaneDoe@gmail.com", "jane.d.o.e+webinar@googlemail.com"]
        .into_iter()
        .enumerate()
    {
        let lead = app
            .ingest(&person(&format!("d-{}", i + 2), json!({"email": variant})))
            .await;
        assert!(
            found(&lead).contains(&(id.clone(), "email".into())),
            "{variant}: {:?}",
            found(&lead)
        );
        assert_eq!(
            lead["possible_duplicates"][found(&lead).len() - 1]["owner"],
            "rep-1"
        );
        // The routed entry of its history notes it.
        let history = app.history(lead["id"].as_str().unwrap()).await;
        assert!(history[0]["data"]["possible_duplicates"].is_array());
    }
    // Dots matter at a provider that does not ignore them; tags at one that may not strip them.
    let other = app
        .ingest(&person("d-9", json!({"email": "jane.doe+x@acme.io"})))
        .await;
    let also = app
        .ingest(&person("d-10", json!({"email": "jane.doe@acme.io"})))
        .await;
    assert_eq!(found(&other), vec![]);
    assert_eq!(found(&also), vec![]);
}

#[tokio::test]
async fn the_same_phone_in_another_format_is_a_possible_duplicate() {
    let app = spawn_app().await;
    let first = app
        .ingest(&person(
            "p-1",
            json!({"phone": "+44 20 7946 0958", "email": "a@one.example"}),
        ))
        .await;
    let national = app
        .ingest(&person(
            "p-2",
            json!({"phone": "020 7946 0958", "company": {"country": "GB"}, "email": "b@two.example"}),
        ))
        .await;
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(found(&national), vec![(id, "phone".to_owned())]);
    // Read in another country, the same digits are another number.
    let us = app
        .ingest(&person(
            "p-3",
            json!({"phone": "020 7946 0958", "company": {"country": "US"}}),
        ))
        .await;
    assert_eq!(found(&us), vec![]);
}

#[tokio::test]
async fn the_same_person_at_the_same_account_from_another_source_is_a_possible_duplicate() {
    let app = spawn_app().await;
    let company = json!({"name": "Acme GmbH"});
    let first = app
        .ingest(&person(
            "s-1",
            json!({"first_name": "Jane", "last_name": "Doe", "company": company}),
        ))
        .await;
    let mut other = person(
        "s-1",
        json!({"first_name": "JANE", "last_name": "Doe", "company": {"name": "ACME"}}),
    );
    other["source"] = json!("salesforce");
    let second = app.ingest(&other).await;
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(found(&second), vec![(id, "person".to_owned())]);
    assert_eq!(second["account_id"], first["account_id"]);
    // Within one source a name alone is not enough (the CRM keeps one record per person):
    // a third from the first source matches the second only.
    let third = app
        .ingest(&person(
            "s-3",
            json!({"first_name": "Jane", "last_name": "Doe", "company": company}),
        ))
        .await;
    let id = second["id"].as_str().unwrap().to_owned();
    assert_eq!(found(&third), vec![(id, "person".to_owned())]);
}

#[tokio::test]
async fn leads_decided_long_ago_are_no_longer_possible_duplicates() {
    let app = spawn_app().await;
    app.clock.set("2026-01-05T10:00:00Z".parse().unwrap());
    let old = app
        .ingest(&person(
            "o-1",
            json!({"email": "ops@acme.io", "owner": "rep-1"}),
        ))
        .await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let id = old["id"].as_str().unwrap();
    let res = app
        .decide(id, "reject", &sdr, &json!({"code": "no_budget"}))
        .await;
    assert_eq!(res.status(), 200);
    app.clock.set("2026-02-05T10:00:00Z".parse().unwrap());
    let recent = app
        .ingest(&person("o-2", json!({"email": "ops@acme.io"})))
        .await;
    assert_eq!(
        found(&recent).len(),
        1,
        "decided a month ago: still a duplicate"
    );
    app.clock.set("2026-06-05T10:00:00Z".parse().unwrap());
    let late = app
        .ingest(&person("o-3", json!({"email": "ops@acme.io"})))
        .await;
    // o-2 is open (always counts); o-1 was decided five months ago (not any more).
    let ids: Vec<String> = found(&late).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![recent["id"].as_str().unwrap().to_owned()]);
}

#[tokio::test]
async fn a_duplicate_rejection_names_the_lead_it_duplicates() {
    let app = spawn_app().await;
    let first = app
        .ingest(&person(
            "r-1",
            json!({"email": "x@acme.io", "owner": "rep-1"}),
        ))
        .await;
    let second = app
        .ingest(&person(
            "r-2",
            json!({"email": "x@acme.io", "owner": "rep-1"}),
        ))
        .await;
    let (a, b) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    // Bad names are refused and change nothing.
    let bad = [
        (json!({"code": "duplicate", "duplicate_of": "nope"}), 422),
        (json!({"code": "no_budget", "duplicate_of": a}), 422),
        (json!({"code": "duplicate", "duplicate_of": b}), 422),
        (
            json!({"code": "duplicate", "duplicate_of": "0190a000-0000-7000-8000-000000000000"}),
            422,
        ),
    ];
    for (body, status) in bad {
        let p = problem(
            app.decide(b, "reject", &sdr, &body).await,
            status,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), vec!["duplicate_of"], "{body}");
    }
    assert_eq!(app.lead(b).await["state"], "routed");
    let res = app
        .decide(
            b,
            "reject",
            &sdr,
            &json!({"code": "duplicate", "duplicate_of": a}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let history = app.history(b).await;
    let last = history.last().unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["data"]["duplicate_of"].as_str()),
        (Some("rejected"), Some(a))
    );
}

#[tokio::test]
async fn a_batch_finds_duplicates_and_accounts_like_single_ingests() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let first = app
        .ingest(&person("b-0", json!({"email": "lee@acme.io"})))
        .await;
    let items: Vec<Value> = (1..=3)
        .map(|i| {
            person(
                &format!("b-{i}"),
                json!({"email": format!("lee+{i}@acme.io"), "company": {"domain": "ACME.io"}}),
            )
        })
        .chain([person("b-4", json!({"email": "Lee@ACME.io"}))])
        .collect();
    let res = app
        .post("/v1/leads/batch", &token, &json!({"leads": items}))
        .await;
    let body: Value = res.json().await.unwrap();
    assert!(body["created"] == 4, "{body}");
    let acme = first["account_id"].as_str().unwrap();
    for i in 1..=4 {
        let id: String = sqlx::query_scalar("SELECT id::text FROM leads WHERE external_id = $1")
            .bind(format!("b-{i}"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
        let lead = app.lead(&id).await;
        assert_eq!(lead["account_id"], acme, "b-{i}");
        let dup = i == 4;
        assert_eq!(!found(&lead).is_empty(), dup, "b-{i}: {:?}", found(&lead));
    }
    assert_eq!(app.count("accounts").await, 1);
}

#[tokio::test]
async fn a_key_is_looked_up_among_the_fifty_newest_leads_that_share_it() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let jane = |ext: &str| {
        person(
            ext,
            json!({"first_name": "Jane", "last_name": "Doe", "company": {"name": "Acme"}}),
        )
    };
    let mut other = jane("sf-1");
    other["source"] = json!("salesforce");
    let sf = app.ingest(&other).await["id"].as_str().unwrap().to_owned();
    // 49 more of Jane from one source: with the Salesforce lead, the fifty newest of her key.
    let items: Vec<Value> = (0..49).map(|i| jane(&format!("h-{i}"))).collect();
    let res = app
        .post("/v1/leads/batch", &token, &json!({"leads": items}))
        .await;
    assert_eq!(res.status(), 200);
    let fiftieth = app.ingest(&jane("h-49")).await;
    assert_eq!(found(&fiftieth), vec![(sf, "person".to_owned())]);
    // Now the fifty newest are all from this source: the lookup reads no further.
    let next = app.ingest(&jane("h-50")).await;
    assert_eq!(found(&next), vec![]);
}
