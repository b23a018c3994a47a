//! Downstream outcomes: stored once (also when raced), with their history entry; bad input
//! named field by field and storing nothing; HubSpot lifecycle changes stored as outcomes.

use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use hmac::{Hmac, Mac};
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{fields, lead, problem, spawn_app, spawn_app_with, TestApp};

async fn outcome_entries(app: &TestApp, id: &str) -> Vec<Value> {
    app.history(id)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "outcome")
        .collect()
}

fn path(id: &str) -> String {
    format!("/v1/leads/{id}/outcomes")
}

#[tokio::test]
async fn an_outcome_posted_twice_is_stored_once_with_one_history_entry() {
    let app = spawn_app().await;
    let id = app.ingest(&lead("o-1")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ingest = app.key(Role::Ingest, None).await;
    let at = (app.clock.now() + Duration::minutes(1)).to_rfc3339();
    let body = json!({"kind": "opportunity", "at": at, "amount": 12000, "currency": "EUR",
                      "external_id": "deal-7"});
    let first = app.post(&path(&id), &ingest, &body).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["kind"], "opportunity");
    assert_eq!(first["amount"], 12000.0);
    assert_eq!(first["cycle"], 1);
    let again = app.post(&path(&id), &ingest, &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    // Another external id is another outcome.
    let mut other = body.clone();
    other["external_id"] = json!("deal-8");
    assert_eq!(app.post(&path(&id), &ingest, &other).await.status(), 201);
    assert_eq!(app.count("lead_outcomes").await, 2);
    let entries = outcome_entries(&app, &id).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["code"], "opportunity");
    assert_eq!(entries[0]["data"]["external_id"], "deal-7");
    assert_eq!(entries[0]["data"]["outcome_id"], first["id"]);
}

#[tokio::test]
async fn concurrent_identical_outcomes_store_one() {
    let app = spawn_app().await;
    let id = app.ingest(&lead("o-race")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revops = app.key(Role::Revops, None).await;
    let at = app.clock.now().to_rfc3339();
    // Without an external id: once per cycle and kind.
    let body = json!({"kind": "sql", "at": at});
    let url = path(&id);
    let posts = (0..16).map(|_| app.post(&url, &revops, &body));
    let statuses: Vec<u16> = futures_util::future::join_all(posts)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(app.count("lead_outcomes").await, 1);
    assert_eq!(outcome_entries(&app, &id).await.len(), 1);
}

#[tokio::test]
async fn bad_outcomes_name_their_fields_and_store_nothing() {
    let app = spawn_app().await;
    let id = app.ingest(&lead("o-bad")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ingest = app.key(Role::Ingest, None).await;
    let now = app.clock.now();
    let cases = [
        (
            json!({"kind": "demo", "at": now.to_rfc3339()}),
            vec!["kind"],
        ),
        (
            json!({"kind": "sql", "at": (now + Duration::minutes(6)).to_rfc3339()}),
            vec!["at"],
        ),
        (
            json!({"kind": "sql", "at": (now - Duration::hours(1)).to_rfc3339()}),
            vec!["at"],
        ),
        (
            json!({"kind": "won", "at": now.to_rfc3339(), "amount": -5, "currency": "EURO"}),
            vec!["amount", "currency"],
        ),
        (
            json!({"kind": "won", "at": now.to_rfc3339(), "amount": 5}),
            vec!["currency"],
        ),
        (
            json!({"kind": "meeting_held", "at": now.to_rfc3339(), "amount": 5, "currency": "USD"}),
            vec!["amount"],
        ),
        (json!({"at": 5, "extra": true}), vec!["at", "extra", "kind"]),
    ];
    for (body, want) in cases {
        let p = problem(
            app.post(&path(&id), &ingest, &body).await,
            422,
            "validation_failed",
        )
        .await;
        let mut got = fields(&p);
        got.sort();
        assert_eq!(got, want, "{body}");
    }
    let body = json!({"kind": "sql", "at": now.to_rfc3339()});
    let missing = uuid::Uuid::now_v7();
    problem(
        app.post(&path(&missing.to_string()), &ingest, &body).await,
        404,
        "not_found",
    )
    .await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    problem(app.post(&path(&id), &sdr, &body).await, 403, "forbidden").await;
    assert_eq!(app.count("lead_outcomes").await, 0);
    assert!(outcome_entries(&app, &id).await.is_empty());
}

const HUBSPOT_SECRET: &str = "hs-app-secret";

/// Posts HubSpot `events`, signed with the documented v3 algorithm.
async fn post_hubspot(app: &TestApp, events: &Value) -> Value {
    let body = events.to_string();
    let ts = app.clock.now().timestamp_millis().to_string();
    let uri = format!(
        "https://{}/v1/integrations/hubspot",
        app.address.trim_start_matches("http://")
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(HUBSPOT_SECRET.as_bytes()).unwrap();
    mac.update(format!("POST{uri}{body}{ts}").as_bytes());
    let res = app
        .client
        .post(app.url("/v1/integrations/hubspot"))
        .header("content-type", "application/json")
        .header("x-hubspot-request-timestamp", &ts)
        .header(
            "x-hubspot-signature-v3",
            STANDARD.encode(mac.finalize().into_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn lifecycle(object_id: u64, event_id: u64, value: &str) -> Value {
    json!({"eventId": event_id, "subscriptionId": 77, "portalId": 62515,
           "occurredAt": crate::helpers::now_micros().timestamp_millis(),
           "subscriptionType": "contact.propertyChange", "objectId": object_id,
           "propertyName": "lifecyclestage", "propertyValue": value})
}

#[tokio::test]
async fn hubspot_lifecycle_changes_past_mql_are_stored_as_outcomes_once() {
    let app = spawn_app_with(|s| s.hubspot_client_secret = Some(HUBSPOT_SECRET.into())).await;
    let routed = post_hubspot(&app, &json!([lifecycle(501, 1, "marketingqualifiedlead")])).await;
    assert_eq!(routed["routed"], 1);
    let events = json!([
        lifecycle(501, 2, "salesqualifiedlead"),
        lifecycle(501, 3, "opportunity"),
        lifecycle(501, 4, "customer"),
        lifecycle(999, 5, "customer"),
    ]);
    let result = post_hubspot(&app, &events).await;
    assert_eq!(result["outcomes"], 3, "{result}");
    assert_eq!(result["ignored"], 1, "an unknown contact: {result}");
    // HubSpot sends the same changes again: nothing more is stored.
    post_hubspot(&app, &events).await;
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM lead_outcomes ORDER BY kind")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["opportunity", "sql", "won"]);
    let actor: String = sqlx::query_scalar("SELECT DISTINCT actor FROM lead_outcomes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(actor, "integration:hubspot");
}

const ORG: &str = "00D5g000004ABCDEA4";
const SF_TOKEN: &str = "sf-outbound-message-token-0123456789";

/// An Outbound Message of one Lead notification with `status`.
fn salesforce_lead(notification: &str, lead_id: &str, status: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG}</OrganizationId><Notification><Id>{notification}</Id><sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{lead_id}</sf:Id><sf:Email>ada@example.com</sf:Email><sf:Status>{status}</sf:Status></sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"#
    )
}

async fn post_salesforce(app: &TestApp, xml: String) -> u16 {
    app.client
        .post(app.url(&format!("/v1/integrations/salesforce?token={SF_TOKEN}")))
        .header("content-type", "text/xml; charset=utf-8")
        .body(xml)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_converted_salesforce_lead_is_an_sql_outcome_and_is_not_routed_again() {
    let app = spawn_app_with(|s| {
        s.salesforce_org_id = Some(ORG.into());
        s.salesforce_token = Some(SF_TOKEN.into());
    })
    .await;
    let lead = "00Q000000000001";
    let open = salesforce_lead("04l000000000001", lead, "Open - Not Contacted");
    assert_eq!(post_salesforce(&app, open).await, 200);
    let converted = salesforce_lead("04l000000000002", lead, "Closed - Converted");
    assert_eq!(post_salesforce(&app, converted.clone()).await, 200);
    assert_eq!(post_salesforce(&app, converted).await, 200);
    let unknown = salesforce_lead("04l000000000003", "00Q000000000009", "Closed - Converted");
    assert_eq!(post_salesforce(&app, unknown).await, 200);
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM lead_outcomes")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["sql"]);
    assert_eq!(
        app.count("leads").await,
        1,
        "the unknown converted lead is not routed"
    );
}
