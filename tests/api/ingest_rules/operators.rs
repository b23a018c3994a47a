//! Each operator, on lead fields, `company.*`, `attributes.*` and the three facts: a live
//! reject rule rejects exactly the leads its one clause holds for.

use salgate::clock::Clock;
use serde_json::{json, Value};

use super::{app, lead, rule};

/// Ingests each lead under one live reject rule and checks which were rejected.
async fn check(clause: Value, leads: Vec<(Value, bool)>) {
    let (app, revops) = app().await;
    rule(
        &app,
        &revops,
        json!({"all": [clause]}),
        json!({"type": "reject", "code": "out_of_territory"}),
        true,
    )
    .await;
    for (body, rejected) in leads {
        let got = app.ingest(&body).await;
        let want = if rejected { "rejected" } else { "routed" };
        assert_eq!(got["state"], want, "{clause} on {body}");
    }
}

#[tokio::test]
async fn eq_holds_for_the_exact_value_of_a_lead_field() {
    check(
        json!({"field": "title", "op": "eq", "value": "Student"}),
        vec![
            (lead("a", json!({"title": "Student"})), true),
            (lead("b", json!({"title": "student"})), false),
            (lead("c", json!({})), false),
        ],
    )
    .await;
}

#[tokio::test]
async fn in_holds_for_a_company_field_in_the_list() {
    check(
        json!({"field": "company.country", "op": "in", "value": ["FR", "ES"]}),
        vec![
            (
                lead("a", json!({"company": {"name": "A", "country": "ES"}})),
                true,
            ),
            (
                lead("b", json!({"company": {"name": "B", "country": "DE"}})),
                false,
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn matches_holds_where_the_regex_finds_the_text() {
    check(
        json!({"field": "email", "op": "matches", "value": "^(test|qa)[0-9]*@"}),
        vec![
            (lead("a", json!({"email": "qa7@corp.example"})), true),
            (lead("b", json!({"email": "ada@corp.example"})), false),
        ],
    )
    .await;
}

#[tokio::test]
async fn lt_and_gt_compare_numbers_of_score_and_attributes() {
    check(
        json!({"field": "score", "op": "lt", "value": 20}),
        vec![
            (lead("a", json!({"score": 5})), true),
            (lead("b", json!({"score": 20})), false),
            (lead("c", json!({})), false),
        ],
    )
    .await;
    check(
        json!({"field": "attributes.seats", "op": "gt", "value": 100}),
        vec![
            (lead("a", json!({"attributes": {"seats": 500}})), true),
            (lead("b", json!({"attributes": {"seats": 50}})), false),
        ],
    )
    .await;
}

#[tokio::test]
async fn missing_holds_for_an_absent_field() {
    check(
        json!({"field": "company.name", "op": "missing"}),
        vec![
            (lead("a", json!({})), true),
            (lead("b", json!({"company": {"name": "B"}})), false),
        ],
    )
    .await;
}

#[tokio::test]
async fn duplicate_found_holds_for_the_second_lead_with_an_email() {
    check(
        json!({"field": "duplicate_found", "op": "eq", "value": true}),
        vec![
            (lead("a", json!({"email": "same@corp.example"})), false),
            (lead("b", json!({"email": "same@corp.example"})), true),
        ],
    )
    .await;
}

#[tokio::test]
async fn free_mail_holds_for_a_gmail_address() {
    check(
        json!({"field": "free_mail", "op": "eq", "value": true}),
        vec![
            (lead("a", json!({"email": "someone@gmail.com"})), true),
            (lead("b", json!({"email": "someone@corp.example"})), false),
        ],
    )
    .await;
}

#[tokio::test]
async fn account_accepted_holds_while_the_account_is_accepted() {
    let (app, revops) = app().await;
    // The lead's account exists once a first lead made it; accept it by hand.
    let first = app
        .ingest(&lead(
            "a",
            json!({"company": {"name": "Acme", "domain": "acme.example"}}),
        ))
        .await;
    let until = app.clock.now() + chrono::Duration::days(30);
    sqlx::query("UPDATE accounts SET accepted_until = $1, accepted_at = $2")
        .bind(until)
        .bind(app.clock.now())
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(first["state"], "routed");
    rule(
        &app,
        &revops,
        json!({"all": [{"field": "account_accepted", "op": "eq", "value": true}]}),
        json!({"type": "reject", "code": "existing_customer"}),
        true,
    )
    .await;
    let second = app
        .ingest(&lead(
            "b",
            json!({"company": {"name": "Acme", "domain": "acme.example"}}),
        ))
        .await;
    assert_eq!(second["state"], "rejected");
    let other = app
        .ingest(&lead(
            "c",
            json!({"company": {"name": "Other", "domain": "other.example"}}),
        ))
        .await;
    assert_eq!(other["state"], "routed");
}
