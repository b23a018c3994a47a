//! Decisions made in the CRM: a lead status set in HubSpot or Salesforce becomes the decision,
//! with the CRM user as the actor; a rejection without a valid code is recorded as such and
//! the lead stays open until the code arrives; salgate's own write-backs coming back are
//! ignored.

use salgate::{clock::Clock, domain::Role, http::integrations::hubspot::signature_v3};
use serde_json::{json, Value};

use super::{
    crm_app, crm_lead, drain, put_rep, writer, MockCrm, HUBSPOT_SECRET, ORG, SF_OUTBOUND_TOKEN,
};
use crate::helpers::TestApp;

/// Posts HubSpot webhook `events`, signed as HubSpot signs them; the answer's JSON.
async fn post_hubspot(app: &TestApp, events: Value) -> Value {
    let body = events.to_string();
    let ts = app.clock.now().timestamp_millis().to_string();
    let uri = format!(
        "{}/v1/integrations/hubspot",
        app.address.replace("http://", "https://")
    );
    let res = app
        .client
        .post(app.url("/v1/integrations/hubspot"))
        .header("content-type", "application/json")
        .header("x-hubspot-request-timestamp", &ts)
        .header(
            "x-hubspot-signature-v3",
            signature_v3(HUBSPOT_SECRET, "POST", &uri, body.as_bytes(), &ts),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// A `contact.propertyChange` event, made by HubSpot user 4242 at `at_ms`.
fn change(event_id: u64, object: u64, property: &str, value: &str, at_ms: i64) -> Value {
    json!({"eventId": event_id, "subscriptionId": 90, "portalId": 62515, "appId": 1,
           "occurredAt": at_ms, "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
           "objectId": object, "propertyName": property, "propertyValue": value,
           "changeSource": "CRM_UI", "sourceId": "userId:4242"})
}

fn now_ms(app: &TestApp) -> i64 {
    app.clock.now().timestamp_millis()
}

/// An Outbound Message of one Lead with `fields` (API name → value).
fn sf_message(notification: &str, fields: &[(&str, &str)]) -> String {
    let f: String = fields
        .iter()
        .map(|(k, v)| format!("<sf:{k}>{v}</sf:{k}>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>{ORG}</OrganizationId><ActionId>04k5g000000AAAAAA</ActionId><Notification><Id>{notification}</Id><sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">{f}</sObject></Notification></notifications></soapenv:Body></soapenv:Envelope>"#
    )
}

async fn post_salesforce(app: &TestApp, xml: String) {
    let res = app
        .client
        .post(app.url(&format!(
            "/v1/integrations/salesforce?token={SF_OUTBOUND_TOKEN}"
        )))
        .header("content-type", "text/xml; charset=utf-8")
        .body(xml)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("<Ack>true</Ack>"));
}

fn last(history: &[Value]) -> &Value {
    history.last().unwrap()
}

#[tokio::test]
async fn a_status_set_in_hubspot_becomes_a_decision_with_the_hubspot_user_as_actor() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let lead = app.ingest(&crm_lead("hubspot", "501", Some("rep-1"))).await;
    let id = lead["id"].as_str().unwrap();
    let r = post_hubspot(
        &app,
        json!([change(
            1,
            501,
            "hs_lead_status",
            "IN_PROGRESS",
            now_ms(&app)
        )]),
    )
    .await;
    assert_eq!(r["decided"], 1, "{r}");
    let lead = app.lead(id).await;
    assert_eq!(lead["state"], "accepted");
    assert_eq!(lead["accepted_by"], "rep-1");
    let h = app.history(id).await;
    assert_eq!(last(&h)["kind"], "accepted");
    assert_eq!(last(&h)["actor"], "hubspot:userId:4242");
    // A redelivery of the same event changes nothing.
    let r = post_hubspot(
        &app,
        json!([change(
            1,
            501,
            "hs_lead_status",
            "IN_PROGRESS",
            now_ms(&app)
        )]),
    )
    .await;
    assert_eq!(r["duplicates"], 1, "{r}");

    // A rejection takes its code from the code property changed in the same delivery.
    let other = app.ingest(&crm_lead("hubspot", "502", Some("rep-1"))).await;
    let events = json!([
        change(2, 502, "salgate_rejection_code", "out_of_icp", now_ms(&app)),
        change(3, 502, "hs_lead_status", "UNQUALIFIED", now_ms(&app)),
    ]);
    let r = post_hubspot(&app, events).await;
    assert_eq!(r["decided"], 1, "{r}");
    let other = app.lead(other["id"].as_str().unwrap()).await;
    assert_eq!(other["state"], "rejected");
    assert_eq!(other["rejection_code"], "out_of_icp");
}

#[tokio::test]
async fn a_rejection_without_a_code_is_recorded_and_the_lead_stays_open() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let lead = app.ingest(&crm_lead("hubspot", "601", Some("rep-1"))).await;
    let id = lead["id"].as_str().unwrap();
    let r = post_hubspot(
        &app,
        json!([change(
            1,
            601,
            "hs_lead_status",
            "UNQUALIFIED",
            now_ms(&app)
        )]),
    )
    .await;
    assert_eq!(r["rejected_without_code"], 1, "{r}");
    assert!(r.get("decided").is_none(), "{r}");
    let after = app.lead(id).await;
    assert_eq!(after["state"], "routed");
    assert_eq!(after["sla"]["status"], "on_track", "still on its SLA clock");
    let h = app.history(id).await;
    assert_eq!(last(&h)["kind"], "rejected_without_code");
    assert_eq!(last(&h)["actor"], "hubspot:userId:4242");
    assert_eq!(last(&h)["data"]["status"], "UNQUALIFIED");
    // A code that is not an active rejection code is no code.
    let events = json!([
        change(2, 601, "salgate_rejection_code", "because", now_ms(&app)),
        change(3, 601, "hs_lead_status", "UNQUALIFIED", now_ms(&app)),
    ]);
    let r = post_hubspot(&app, events).await;
    assert_eq!(r["rejected_without_code"], 1, "{r}");
    assert_eq!(last(&app.history(id).await)["code"], "because");
    assert_eq!(app.lead(id).await["state"], "routed");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("salgate_crm_decisions_total")
            && l.contains("outcome=\"rejected_without_code\"")));
    // The code arriving later applies the rejection the lead waited for.
    let r = post_hubspot(
        &app,
        json!([change(
            4,
            601,
            "salgate_rejection_code",
            "no_budget",
            now_ms(&app)
        )]),
    )
    .await;
    assert_eq!(r["decided"], 1, "{r}");
    let after = app.lead(id).await;
    assert_eq!(after["state"], "rejected");
    assert_eq!(after["rejection_code"], "no_budget");
}

#[tokio::test]
async fn a_status_set_in_salesforce_becomes_a_decision_as_the_mapped_rep() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    put_rep(
        &app,
        "ada",
        json!({"name": "Ada", "salesforce_owner_id": "0055g00000ADAAAA"}),
    )
    .await;
    let lead = app
        .ingest(&crm_lead("salesforce", "00Q5g000001DEC01", Some("rep-1")))
        .await;
    let id = lead["id"].as_str().unwrap();
    let xml = sf_message(
        "04l5g0000001N01",
        &[
            ("Id", "00Q5g000001DEC01"),
            ("Status", "Working - Contacted"),
            ("LastModifiedById", "0055g00000ADAAAA"),
            ("SAL_State__c", "routed"),
        ],
    );
    post_salesforce(&app, xml).await;
    let after = app.lead(id).await;
    assert_eq!(after["state"], "accepted");
    assert_eq!(after["accepted_by"], "ada");
    assert_eq!(
        last(&app.history(id).await)["actor"],
        "salesforce:0055g00000ADAAAA"
    );

    // Closed without a rejection code: recorded, the lead stays routed.
    let open = app
        .ingest(&crm_lead("salesforce", "00Q5g000001DEC02", Some("rep-1")))
        .await;
    let xml = sf_message(
        "04l5g0000001N02",
        &[
            ("Id", "00Q5g000001DEC02"),
            ("Status", "Closed - Not Converted"),
            ("LastModifiedById", "0055g00000ZZZZZZ"),
            ("SAL_State__c", "routed"),
        ],
    );
    post_salesforce(&app, xml).await;
    let open_id = open["id"].as_str().unwrap();
    assert_eq!(app.lead(open_id).await["state"], "routed");
    assert_eq!(
        last(&app.history(open_id).await)["kind"],
        "rejected_without_code"
    );
    // With the code in its field, the same change rejects (as the owner: the user maps to
    // no rep).
    let xml = sf_message(
        "04l5g0000001N03",
        &[
            ("Id", "00Q5g000001DEC02"),
            ("Status", "Closed - Not Converted"),
            ("SAL_Rejection_Code__c", "existing_customer"),
            ("LastModifiedById", "0055g00000ZZZZZZ"),
            ("SAL_State__c", "routed"),
        ],
    );
    post_salesforce(&app, xml).await;
    let after = app.lead(open_id).await;
    assert_eq!(after["state"], "rejected");
    assert_eq!(after["rejected_by"], "rep-1");
    assert_eq!(after["rejection_code"], "existing_customer");
}

#[tokio::test]
async fn our_own_write_back_coming_back_is_ignored() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let w = writer(&app, &mock);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    // HubSpot: rejected here and written back; the lead comes back as a new MQL (cycle 2)
    // before HubSpot's change events for salgate's own write arrive.
    let lead = app.ingest(&crm_lead("hubspot", "701", Some("rep-1"))).await;
    let id = lead["id"].as_str().unwrap();
    drain(&w).await;
    let body = json!({"code": "out_of_icp"});
    assert_eq!(app.decide(id, "reject", &sdr, &body).await.status(), 200);
    let written_at = now_ms(&app);
    drain(&w).await;
    app.clock.advance(chrono::Duration::seconds(5));
    app.ingest(&crm_lead("hubspot", "701", Some("rep-1"))).await;
    drain(&w).await;
    let events = json!([
        change(
            1,
            701,
            "salgate_rejection_code",
            "out_of_icp",
            written_at + 300
        ),
        change(2, 701, "hs_lead_status", "UNQUALIFIED", written_at + 300),
    ]);
    let r = post_hubspot(&app, events).await;
    assert_eq!(r["echoes"], 1, "{r}");
    let after = app.lead(id).await;
    assert_eq!(
        (after["state"].clone(), after["cycle"].clone()),
        (json!("routed"), json!(2))
    );

    // Salesforce: the same, recognised by the record's own salgate state field.
    let lead = app
        .ingest(&crm_lead("salesforce", "00Q5g000001ECHO1", Some("rep-1")))
        .await;
    let id = lead["id"].as_str().unwrap();
    assert_eq!(app.decide(id, "reject", &sdr, &body).await.status(), 200);
    drain(&w).await;
    app.ingest(&crm_lead("salesforce", "00Q5g000001ECHO1", Some("rep-1")))
        .await;
    drain(&w).await;
    let xml = sf_message(
        "04l5g0000001E01",
        &[
            ("Id", "00Q5g000001ECHO1"),
            ("Status", "Closed - Not Converted"),
            ("SAL_Rejection_Code__c", "out_of_icp"),
            ("SAL_State__c", "rejected"),
            ("LastModifiedById", "0055g00000INTEGR"),
        ],
    );
    post_salesforce(&app, xml).await;
    let after = app.lead(id).await;
    assert_eq!(
        (after["state"].clone(), after["cycle"].clone()),
        (json!("routed"), json!(2))
    );
}
