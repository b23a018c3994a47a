//! HubSpot and Salesforce adapters, with payloads signed here from the documented algorithms.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{problem, spawn_app_with, TestApp};

const HUBSPOT_SECRET: &str = "hs-app-secret";
/// An 18-character org id (its suffix is the checksum of the first 15).
const ORG: &str = "00D5g000004ABCDEA4";
const SF_TOKEN: &str = "sf-outbound-message-token-0123456789";

/// HubSpot v3 as documented: base64(HMAC-SHA256(secret, method + URI + body + timestamp)).
fn hubspot_v3(uri: &str, body: &str, timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(HUBSPOT_SECRET.as_bytes()).unwrap();
    mac.update(format!("POST{uri}{body}{timestamp}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn hubspot_app(public_url: Option<&str>) -> TestApp {
    let public_url = public_url.map(String::from);
    spawn_app_with(move |s| {
        s.hubspot_client_secret = Some(HUBSPOT_SECRET.into());
        s.public_url = public_url;
    })
    .await
}

/// Posts `events` signed for `uri`, with the timestamp `age_ms` old by the app's clock.
async fn post_hubspot(app: &TestApp, uri: &str, events: &Value, age_ms: i64) -> reqwest::Response {
    let body = events.to_string();
    let ts = (app.clock_now_ms() - age_ms).to_string();
    app.client
        .post(app.url("/v1/integrations/hubspot"))
        .header("content-type", "application/json")
        .header("x-hubspot-request-timestamp", &ts)
        .header("x-hubspot-signature-v3", hubspot_v3(uri, &body, &ts))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// An MQL event that occurred a minute ago (by the time the test started).
fn mql(object_id: u64, event_id: u64, spelling: &str) -> Value {
    let occurred_at = crate::helpers::now_micros().timestamp_millis() - 60_000;
    json!({
        "eventId": event_id, "subscriptionId": 77, "portalId": 62515, "appId": 1,
        "occurredAt": occurred_at, spelling: "contact.propertyChange",
        "attemptNumber": 0, "objectId": object_id, "propertyName": "lifecyclestage",
        "propertyValue": "marketingqualifiedlead", "changeSource": "CRM_UI"
    })
}

impl TestApp {
    fn clock_now_ms(&self) -> i64 {
        use salgate::clock::Clock;
        self.clock.now().timestamp_millis()
    }

    fn direct_uri(&self, path: &str) -> String {
        // No SALGATE_PUBLIC_URL: https:// + Host + path.
        format!(
            "https://{}{path}",
            self.address.trim_start_matches("http://")
        )
    }
}

/// Rejects every open lead (an admin for rep-1), so a redelivery that got past the dedupe would
/// route them again in a new cycle; returns how many history entries there are then.
async fn reject_all(app: &TestApp) -> i64 {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM leads ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for id in ids {
        let res = app
            .decide(
                &id.to_string(),
                "reject",
                &app.admin,
                &json!({"code": "out_of_territory", "on_behalf_of": "rep-1"}),
            )
            .await;
        assert_eq!(res.status(), 200, "reject {id}");
    }
    app.count("lead_history").await
}

/// No lead was routed again: all still rejected in their first cycle, history unchanged.
async fn assert_still_rejected(app: &TestApp, history: i64) {
    let cycles: Vec<(String, i32)> = sqlx::query_as("SELECT state, cycle FROM leads")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(!cycles.is_empty());
    for (state, cycle) in cycles {
        assert_eq!((state.as_str(), cycle), ("rejected", 1), "routed again");
    }
    assert_eq!(app.count("lead_history").await, history);
}

#[tokio::test]
async fn hubspot_mql_changes_become_leads_in_both_event_spellings() {
    let app = hubspot_app(None).await;
    let uri = app.direct_uri("/v1/integrations/hubspot");
    let events = json!([
        mql(101, 1, "subscriptionType"),
        mql(102, 2, "eventType"),
        {"eventId": 3, "subscriptionId": 78, "portalId": 62515, "subscriptionType": "contact.creation", "objectId": 103},
        {"eventId": 4, "subscriptionId": 77, "portalId": 62515, "subscriptionType": "contact.propertyChange",
         "objectId": 104, "propertyName": "lifecyclestage", "propertyValue": "lead"}
    ]);
    let res = post_hubspot(&app, &uri, &events, 1000).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"routed": 2, "unchanged": 0, "duplicates": 0, "ignored": 2, "outcomes": 0})
    );
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT external_id FROM leads WHERE source = 'hubspot' ORDER BY 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(ids, ["101", "102"]);

    // A redelivery of the same events changes nothing.
    let res = post_hubspot(&app, &uri, &events, 0).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["duplicates"], 2);
    assert_eq!(body["routed"], 0);
    assert_eq!(app.count("leads").await, 2);
    assert_eq!(app.count("lead_history").await, 2);
}

#[tokio::test]
async fn hubspot_refuses_a_wrong_signature_and_a_stale_timestamp() {
    let app = hubspot_app(None).await;
    let events = json!([mql(201, 1, "subscriptionType")]);
    // Signed for another URI (a proxy rewrote the host, say).
    let res = post_hubspot(
        &app,
        "https://elsewhere.example.com/v1/integrations/hubspot",
        &events,
        0,
    )
    .await;
    problem(res, 401, "unauthorized").await;
    let uri = app.direct_uri("/v1/integrations/hubspot");
    let res = post_hubspot(&app, &uri, &events, 6 * 60 * 1000).await;
    problem(res, 401, "unauthorized").await;
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn hubspot_signs_the_public_url_when_one_is_configured() {
    let app = hubspot_app(Some("https://salgate.example.com")).await;
    let events = json!([mql(301, 1, "eventType")]);
    let uri = "https://salgate.example.com/v1/integrations/hubspot";
    let res = post_hubspot(&app, uri, &events, 0).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.count("leads").await, 1);
}

fn salesforce_message(org: &str, notifications: &[(&str, &str, &str)]) -> String {
    let items: String = notifications
        .iter()
        .map(|(nid, lead_id, email)| {
            format!(
                r#"<Notification><Id>{nid}</Id><sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{lead_id}</sf:Id><sf:Email>{email}</sf:Email><sf:FirstName>Ada</sf:FirstName><sf:LastName>Lovelace</sf:LastName><sf:Company>Analytical Engines</sf:Company><sf:LeadSource>Web</sf:LeadSource><sf:Rating>Hot</sf:Rating></sObject></Notification>"#
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org}</OrganizationId><ActionId>04k5g000000AAAAAA</ActionId><SessionId xsi:nil="true"/><EnterpriseUrl>https://x.my.salesforce.com/services/Soap/c/59.0</EnterpriseUrl><PartnerUrl>https://x.my.salesforce.com/services/Soap/u/59.0</PartnerUrl>{items}</notifications></soapenv:Body></soapenv:Envelope>"#
    )
}

async fn post_salesforce(app: &TestApp, xml: String) -> (u16, String) {
    post_salesforce_to(app, &format!("?token={SF_TOKEN}"), xml).await
}

/// Posts to the endpoint with `query` (`?token=…`) as its URL's query.
async fn post_salesforce_to(app: &TestApp, query: &str, xml: String) -> (u16, String) {
    let res = app
        .client
        .post(app.url(&format!("/v1/integrations/salesforce{query}")))
        .header("content-type", "text/xml; charset=utf-8")
        .header("soapaction", "\"\"")
        .body(xml)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    (status, res.text().await.unwrap())
}

async fn salesforce_app() -> TestApp {
    salesforce_app_with(|_| {}).await
}

async fn salesforce_app_with(configure: impl FnOnce(&mut salgate::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.salesforce_org_id = Some(ORG.into());
        s.salesforce_token = Some(SF_TOKEN.into());
        configure(s);
    })
    .await
}

fn one_lead(org: &str) -> String {
    salesforce_message(
        org,
        &[("04l000000000001", "00Q000000000001", "a@example.com")],
    )
}

#[tokio::test]
async fn salesforce_refuses_a_message_without_the_urls_token_before_reading_it() {
    let app = salesforce_app().await;
    // The org id is public: a forged message naming it is not enough.
    for query in ["", "?token=", "?token=guess", "?other=x"] {
        let (status, body) = post_salesforce_to(&app, query, one_lead(ORG)).await;
        assert_eq!(status, 401, "{query}: {body}");
        assert!(body.contains("<soapenv:Fault>"), "{body}");
    }
    let almost = &SF_TOKEN[..SF_TOKEN.len() - 1];
    let (status, _) = post_salesforce_to(&app, &format!("?token={almost}"), one_lead(ORG)).await;
    assert_eq!(status, 401);
    // Checked before the body is parsed: not even a malformed body gets a 400.
    let (status, _) = post_salesforce_to(&app, "", "<not-soap".into()).await;
    assert_eq!(status, 401);
    assert_eq!(app.count("leads").await, 0);
    assert_eq!(post_salesforce(&app, one_lead(ORG)).await.0, 200);
    assert_eq!(app.count("leads").await, 1);
}

#[tokio::test]
async fn salesforce_compares_the_whole_18_character_org_id() {
    let app = salesforce_app().await;
    // Same first 15 characters, another suffix: another (or a made-up) organization.
    for org in [
        "00D5g000004ABCDAAA",
        "00D5g000004ABCDEAA",
        "00d5g000004abcdEA4",
    ] {
        let (status, body) = post_salesforce(&app, one_lead(org)).await;
        assert_eq!(status, 403, "{org}: {body}");
    }
    assert_eq!(app.count("leads").await, 0);
    // The 15-character form of the configured id is the same organization.
    assert_eq!(post_salesforce(&app, one_lead(&ORG[..15])).await.0, 200);
}

#[tokio::test]
async fn salesforce_refuses_senders_outside_the_allowed_networks() {
    let app = salesforce_app_with(|s| {
        s.salesforce_allowed_networks =
            salgate::domain::network::parse_list("13.108.0.0/14, 10.0.0.0/8").unwrap();
    })
    .await;
    let (status, body) = post_salesforce(&app, one_lead(ORG)).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("ALLOWED_NETWORKS"), "{body}");
    assert_eq!(app.count("leads").await, 0);
    let app = salesforce_app_with(|s| {
        s.salesforce_allowed_networks =
            salgate::domain::network::parse_list("127.0.0.0/8").unwrap();
    })
    .await;
    assert_eq!(post_salesforce(&app, one_lead(ORG)).await.0, 200);
}

#[tokio::test]
async fn the_integrations_are_rate_limited_per_client_address() {
    let app = salesforce_app_with(|s| {
        s.rate_limit_per_second = 0.5;
        s.rate_limit_burst = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(post_salesforce(&app, one_lead(ORG)).await.0, 200);
    }
    let res = app
        .client
        .post(app.url(&format!("/v1/integrations/salesforce?token={SF_TOKEN}")))
        .body(one_lead(ORG))
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    problem(res, 429, "rate_limited").await;
    // HubSpot's endpoint shares the address's bucket (it carries no API key either).
    let res = app
        .client
        .post(app.url("/v1/integrations/hubspot"))
        .send()
        .await
        .unwrap();
    problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn salesforce_acks_a_multi_notification_message_after_storing_every_lead() {
    let app = salesforce_app().await;
    let xml = salesforce_message(
        ORG,
        &[
            ("04l000000000001", "00Q000000000001", "a@example.com"),
            ("04l000000000002", "00Q000000000002", "b@example.com"),
            ("04l000000000003", "00Q000000000003", "c@example.com"),
        ],
    );
    let (status, body) = post_salesforce(&app, xml.clone()).await;
    assert_eq!(status, 200);
    assert!(body.contains("<Ack>true</Ack>"), "{body}");
    let rows: Vec<(String, Option<String>, Option<String>, Value)> = sqlx::query_as(
        "SELECT external_id, email, channel, attributes FROM leads WHERE source = 'salesforce' ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].0, "00Q000000000001");
    assert_eq!(rows[0].1.as_deref(), Some("a@example.com"));
    assert_eq!(rows[0].2.as_deref(), Some("web"));
    assert_eq!(rows[0].3["salesforce"]["Rating"], "Hot");

    // Redelivered after the leads were rejected: acknowledged again, no second cycle (an
    // open lead would be left alone by ingest anyway; a closed one would be routed again).
    let history = reject_all(&app).await;
    let (status, body) = post_salesforce(&app, xml).await;
    assert_eq!(status, 200);
    assert!(body.contains("<Ack>true</Ack>"));
    assert_eq!(app.count("leads").await, 3);
    assert_still_rejected(&app, history).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_redeliveries_of_an_event_whose_lead_was_rejected_change_nothing() {
    let app = hubspot_app(None).await;
    let uri = app.direct_uri("/v1/integrations/hubspot");
    let events = json!([mql(601, 1, "subscriptionType")]);
    let res = post_hubspot(&app, &uri, &events, 0).await;
    assert_eq!(res.status(), 200);
    let history = reject_all(&app).await;
    // HubSpot retries a delivery it timed out on while the first is still being handled.
    let (a, b) = tokio::join!(
        post_hubspot(&app, &uri, &events, 0),
        post_hubspot(&app, &uri, &events, 0)
    );
    for res in [a, b] {
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body,
            json!({"routed": 0, "unchanged": 0, "duplicates": 1, "ignored": 0, "outcomes": 0})
        );
    }
    assert_eq!(app.count("leads").await, 1);
    assert_still_rejected(&app, history).await;

    // A new MQL change of the same contact, delivered twice at once: one new cycle, not two.
    let events = json!([mql(601, 2, "subscriptionType")]);
    let (a, b) = tokio::join!(
        post_hubspot(&app, &uri, &events, 0),
        post_hubspot(&app, &uri, &events, 0)
    );
    let mut routed = 0;
    for res in [a, b] {
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        routed += body["routed"].as_i64().unwrap();
    }
    assert_eq!(routed, 1);
    let (state, cycle): (String, i32) = sqlx::query_as("SELECT state, cycle FROM leads")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((state.as_str(), cycle), ("routed", 2));
}

#[tokio::test]
async fn salesforce_refuses_another_organization_and_an_invalid_lead_storing_nothing() {
    let app = salesforce_app().await;
    let xml = salesforce_message(
        "00D9z000009ZZZZAAA",
        &[("04l000000000001", "00Q000000000001", "a@example.com")],
    );
    let (status, body) = post_salesforce(&app, xml).await;
    assert_eq!(status, 403);
    assert!(body.contains("<soapenv:Fault>"), "{body}");
    let xml = salesforce_message(
        ORG,
        &[
            ("04l000000000001", "00Q000000000001", "a@example.com"),
            ("04l000000000002", "00Q000000000002", "not-an-email"),
        ],
    );
    let (status, body) = post_salesforce(&app, xml).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("notification 1 (04l000000000002): email"),
        "{body}"
    );
    let (status, _) = post_salesforce(&app, "<not-soap".into()).await;
    assert_eq!(status, 400);
    assert_eq!(app.count("leads").await, 0);
}

#[tokio::test]
async fn a_hubspot_delivery_with_one_unusable_mql_stores_nothing() {
    let app = hubspot_app(None).await;
    let uri = app.direct_uri("/v1/integrations/hubspot");
    let mut bad = mql(0, 2, "subscriptionType");
    bad["objectId"] = json!("x".repeat(300));
    let events = json!([mql(401, 1, "subscriptionType"), bad]);
    let res = post_hubspot(&app, &uri, &events, 0).await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "[1].external_id");
    assert_eq!(app.count("leads").await, 0);
}

/// Issue: `occurredAt: 0` routed a lead in 1970, already breached. It goes through the
/// `routed_at` rule: 422 naming the event's field, nothing stored.
#[tokio::test]
async fn a_hubspot_event_older_than_the_routed_at_window_stores_nothing() {
    let app = hubspot_app(None).await;
    let uri = app.direct_uri("/v1/integrations/hubspot");
    let day_ms = 86_400_000;
    for occurred_at in [0, app.clock_now_ms() - 401 * day_ms] {
        let mut old = mql(502, 2, "subscriptionType");
        old["occurredAt"] = json!(occurred_at);
        let events = json!([mql(501, 1, "subscriptionType"), old]);
        let res = post_hubspot(&app, &uri, &events, 0).await;
        let p = problem(res, 422, "validation_failed").await;
        assert_eq!(crate::helpers::fields(&p), ["[1].occurredAt"], "{p}");
        assert_eq!(app.count("leads").await, 0);
        assert_eq!(app.count("integration_receipts").await, 0);
    }
    let mut year_old = mql(503, 3, "subscriptionType");
    year_old["occurredAt"] = json!(app.clock_now_ms() - 399 * day_ms);
    let res = post_hubspot(&app, &uri, &json!([year_old]), 0).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.count("leads").await, 1);
}

/// Salesforce's limit, 100 notifications per Outbound Message (docs/api.md §7): a message of 100
/// is stored and acknowledged; one of 101 (or none) is a 400 fault and nothing is stored.
#[tokio::test]
async fn salesforce_takes_up_to_100_notifications_in_one_message_and_refuses_101() {
    let app = salesforce_app().await;
    let ids: Vec<(String, String, String)> = (1..=101)
        .map(|i| {
            (
                format!("04l{i:012}"),
                format!("00Q{i:012}"),
                format!("lead-{i}@example.com"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str, &str)> = ids
        .iter()
        .map(|(n, l, e)| (n.as_str(), l.as_str(), e.as_str()))
        .collect();
    let (status, body) = post_salesforce(&app, salesforce_message(ORG, &refs)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("<soapenv:Fault>"), "{body}");
    assert!(body.contains("1 to 100 notifications"), "{body}");
    assert!(!body.contains("<Ack>"), "{body}");
    let (status, body) = post_salesforce(&app, salesforce_message(ORG, &[])).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.count("leads").await, 0);
    assert_eq!(app.count("integration_receipts").await, 0);

    let (status, body) = post_salesforce(&app, salesforce_message(ORG, &refs[..100])).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Ack>true</Ack>"), "{body}");
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT external_id FROM leads WHERE source = 'salesforce' ORDER BY 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let expected: Vec<&str> = refs[..100].iter().map(|(_, l, _)| *l).collect();
    assert_eq!(stored, expected);
}
