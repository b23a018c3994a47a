//! Every transition is written to the lead's CRM record once, mapped; pending changes of
//! several leads go in one batch call; two replicas still write each transition once.

use std::{sync::Arc, time::Duration};

use salgate::{domain::Role, jobs::sla_scanner::SlaScanner};
use serde_json::json;

use super::{crm_app, crm_lead, drain, put_rep, writer, writes_to, MockCrm};
use crate::helpers::spawn_replica;

#[tokio::test]
async fn every_transition_writes_the_mapped_fields_once() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let w = writer(&app, &mock).with_batch(1);
    let revops = app.key(Role::Revops, None).await;
    let a = app.ingest(&crm_lead("hubspot", "101", Some("rep-1"))).await;
    let b = app.ingest(&crm_lead("hubspot", "102", Some("rep-1"))).await;
    let c = app.ingest(&crm_lead("hubspot", "103", Some("rep-1"))).await;
    // A lead of another source has no CRM record to write.
    app.ingest(&crm_lead("web", "104", Some("rep-1"))).await;
    let (a, b, c) = (
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
    );
    put_rep(
        &app,
        "rep-2",
        json!({"name": "Rep Two", "hubspot_owner_id": "9001"}),
    )
    .await;
    let res = app
        .post(
            &format!("/v1/leads/{a}/assign"),
            &revops,
            &json!({"owner": "rep-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rep2 = app.key(Role::Sdr, Some("rep-2")).await;
    let rep1 = app.key(Role::Sdr, Some("rep-1")).await;
    assert_eq!(
        app.decide(a, "accept", &rep2, &json!({})).await.status(),
        200
    );
    let body = json!({"reason": "not_ready", "note": "asked to come back in Q3"});
    assert_eq!(app.decide(a, "recycle", &rep2, &body).await.status(), 200);
    let body = json!({"code": "out_of_icp"});
    assert_eq!(app.decide(b, "reject", &rep1, &body).await.status(), 200);
    app.clock.advance(chrono::Duration::hours(2));
    SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()))
        .run_once()
        .await
        .unwrap();
    drain(&w).await;
    // Nothing is written twice: a further step sends nothing.
    assert_eq!(w.run_once().await.unwrap().calls, 0);

    let a_writes = writes_to(&mock, "101");
    let states: Vec<_> = a_writes
        .iter()
        .map(|p| p["hs_lead_status"].clone())
        .collect();
    assert_eq!(
        states,
        ["OPEN", "OPEN", "IN_PROGRESS", "BAD_TIMING"],
        "{a_writes:#?}"
    );
    // A rep registered from a CRM owner id is its own owner id; rep-2 has an explicit one.
    assert_eq!(a_writes[0]["hubspot_owner_id"], "rep-1");
    assert_eq!(a_writes[1]["hubspot_owner_id"], "9001");
    assert!(
        a_writes[2].get("hubspot_owner_id").is_none(),
        "owner only when salgate chose it"
    );
    assert_eq!(a_writes[2]["salgate_state"], "accepted");
    assert_eq!(a_writes[2]["salgate_accepted_by"], "rep-2");
    assert!(a_writes[2]["salgate_accepted_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    assert_eq!(a_writes[3]["salgate_state"], "recycled");
    assert_eq!(a_writes[0]["salgate_sla_status"], "on_track");
    assert!(!a_writes[0]["salgate_sla_due_at"]
        .as_str()
        .unwrap()
        .is_empty());

    let b_writes = writes_to(&mock, "102");
    assert_eq!(b_writes.len(), 2, "{b_writes:#?}");
    assert_eq!(b_writes[1]["hs_lead_status"], "UNQUALIFIED");
    assert_eq!(b_writes[1]["salgate_rejection_code"], "out_of_icp");
    assert_eq!(
        b_writes[0]["salgate_rejection_code"], "",
        "cleared while routed"
    );

    let c_writes = writes_to(&mock, "103");
    assert_eq!(c_writes.len(), 2, "{c_writes:#?}");
    assert_eq!(c_writes[1]["salgate_sla_status"], "breached");
    assert_eq!(c_writes[1]["hs_lead_status"], "OPEN");
    assert!(writes_to(&mock, "104").is_empty());
    assert_eq!(mock.writes().len(), 8);
    let listed: serde_json::Value = app
        .get(&format!("/v1/crm-writebacks?lead_id={c}"), &revops)
        .await
        .json()
        .await
        .unwrap();
    let events: Vec<_> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["event"].clone())
        .collect();
    assert_eq!(events, ["sla_breached", "routed"]);
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "sent"));
}

#[tokio::test]
async fn batch_updates_group_pending_changes() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let w = writer(&app, &mock);
    for i in 0..5 {
        app.ingest(&crm_lead("hubspot", &format!("20{i}"), Some("rep-1")))
            .await;
    }
    for i in 0..3 {
        app.ingest(&crm_lead(
            "salesforce",
            &format!("00Q5g00000BATCH{i}"),
            Some("rep-1"),
        ))
        .await;
    }
    let step = w.run_once().await.unwrap();
    assert_eq!(step.calls, 2, "one call per CRM");
    let writes = mock.writes();
    assert_eq!(writes.len(), 8);
    assert!(writes
        .iter()
        .filter(|w| w.crm == "hubspot")
        .all(|w| w.call == "batch"));
    assert!(writes
        .iter()
        .filter(|w| w.crm == "salesforce")
        .all(|w| w.call == "collection"));
    // Salesforce: one token request, then the collection.
    assert_eq!(mock.tokens_issued(), 1);
    assert_eq!(mock.calls(), 2);
    assert_eq!(
        writes
            .iter()
            .find(|w| w.crm == "salesforce")
            .unwrap()
            .properties["Status"],
        "Open - Not Contacted"
    );
    // A lead's later change waits behind its pending one: the next step sends it.
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM leads ORDER BY external_id LIMIT 1")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let revops = app.key(Role::Revops, None).await;
    let body = json!({"on_behalf_of": "rep-1"});
    let _ = app.decide(&ids[0], "accept", &revops, &body).await;
    assert_eq!(w.run_once().await.unwrap().calls, 1);
    assert_eq!(w.run_once().await.unwrap().calls, 0);
}

#[tokio::test]
async fn two_replicas_write_each_transition_once() {
    let mock = MockCrm::start().await;
    let app = crm_app(&mock).await;
    let m = mock.clone();
    let replica = spawn_replica(&app, move |s| m.configure(s)).await;
    mock.set_delay(Duration::from_millis(20));
    let n = 24;
    for i in 0..n {
        app.ingest(&crm_lead("hubspot", &format!("3{i:03}"), Some("rep-1")))
            .await;
    }
    let revops = app.key(Role::Revops, None).await;
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM leads WHERE source = 'hubspot'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    for id in &ids {
        let body = json!({"on_behalf_of": "rep-1"});
        assert_eq!(app.decide(id, "accept", &revops, &body).await.status(), 200);
    }
    let writers = [
        writer(&app, &mock).with_batch(3),
        writer(&replica, &mock).with_batch(3),
    ];
    let tasks: Vec<_> = writers
        .into_iter()
        .map(|w| tokio::spawn(async move { drain(&w).await }))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let writes = mock.writes();
    assert_eq!(
        writes.len(),
        2 * n,
        "each transition once: {}",
        writes.len()
    );
    for id in 0..n {
        let record = format!("3{id:03}");
        let states: Vec<_> = writes_to(&mock, &record)
            .iter()
            .map(|p| p["salgate_state"].clone())
            .collect();
        assert_eq!(
            states,
            ["routed", "accepted"],
            "in order, once each, for {record}"
        );
    }
}

#[tokio::test]
async fn crm_setup_creates_the_hubspot_properties_that_are_missing_once() {
    use salgate::crm::hubspot::{property_definitions, HubspotClient};
    let mock = MockCrm::start().await;
    let mut s = salgate::config::Settings::load().unwrap();
    s.webhook_allow_private_networks = true;
    mock.configure(&mut s);
    let policy = salgate::outbound::Policy {
        allow_private: true,
    };
    let client = HubspotClient::new(&mock.url, super::HUBSPOT_TOKEN, policy).unwrap();
    let wanted = property_definitions(&s.crm.hubspot);
    let created = client.ensure_properties(&wanted).await.unwrap();
    assert_eq!(
        created,
        [
            "salgate_state",
            "salgate_rejection_code",
            "salgate_accepted_by",
            "salgate_accepted_at",
            "salgate_sla_status",
            "salgate_sla_due_at"
        ]
    );
    assert_eq!(mock.created_properties()[3]["type"], "datetime");
    assert!(
        client.ensure_properties(&wanted).await.unwrap().is_empty(),
        "GET first"
    );
    assert_eq!(mock.created_properties().len(), 6);
}
