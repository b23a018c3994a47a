//! Each action at ingest, dry run, the rule's actor, batches, and what a person can do after
//! a rule decided.

use salgate::domain::Role;
use serde_json::{json, Value};

use super::{app, lead, rule};
use crate::helpers::TestApp;

fn from_web() -> Value {
    json!({"all": [{"field": "channel", "op": "eq", "value": "web"}]})
}

/// The entry of `kind` in the lead's history.
async fn entry(app: &TestApp, id: &str, kind: &str) -> Value {
    let history = app.history(id).await;
    history
        .into_iter()
        .find(|h| h["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry"))
}

#[tokio::test]
async fn a_route_rule_sets_the_owner_before_the_lead_is_stored() {
    let (app, revops) = app().await;
    let id = rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "route", "owner": "rep-2"}),
        true,
    )
    .await;
    let got = app
        .ingest(&lead("a", json!({"channel": "web", "owner": "rep-1"})))
        .await;
    assert_eq!(got["state"], "routed");
    assert_eq!(got["owner"], "rep-2");
    let routed = entry(&app, got["id"].as_str().unwrap(), "routed").await;
    assert_eq!(
        routed["data"]["assigned_by"],
        format!("rule:{id}"),
        "{routed}"
    );
    let other = app
        .ingest(&lead("b", json!({"channel": "email", "owner": "rep-1"})))
        .await;
    assert_eq!(other["owner"], "rep-1");
}

#[tokio::test]
async fn a_route_rule_is_respected_by_batches() {
    let (app, revops) = app().await;
    rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "route", "queue": "nurture"}),
        true,
    )
    .await;
    let ingest = app.key(Role::Ingest, None).await;
    let body = json!({"leads": [
        lead("a", json!({"channel": "web", "queue": null})),
        lead("b", json!({"channel": "email", "queue": null})),
    ]});
    let res = app.post("/v1/leads/batch", &ingest, &body).await;
    assert!(res.status().is_success(), "{}", res.status());
    let page: Value = app
        .get("/v1/leads?queue=nurture", &app.admin)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a"]);
}

#[tokio::test]
async fn a_reject_rule_rejects_with_its_code_as_the_rule() {
    let (app, revops) = app().await;
    let id = rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "reject", "code": "out_of_territory"}),
        true,
    )
    .await;
    let got = app.ingest(&lead("a", json!({"channel": "web"}))).await;
    assert_eq!(got["state"], "rejected");
    assert_eq!(got["rejection_code"], "out_of_territory");
    let rejected = entry(&app, got["id"].as_str().unwrap(), "rejected").await;
    assert_eq!(rejected["actor"], format!("rule:{id}"));
    assert_eq!(rejected["code"], "out_of_territory");
}

#[tokio::test]
async fn a_recycle_rule_recycles_with_its_reason() {
    let (app, revops) = app().await;
    let id = rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "recycle", "reason": "needs_nurture"}),
        true,
    )
    .await;
    let got = app.ingest(&lead("a", json!({"channel": "web"}))).await;
    assert_eq!(got["state"], "recycled");
    let recycled = entry(&app, got["id"].as_str().unwrap(), "recycled").await;
    assert_eq!(recycled["actor"], format!("rule:{id}"));
    assert_eq!(recycled["code"], "needs_nurture");
}

#[tokio::test]
async fn an_accept_rule_accepts_for_its_owner_and_a_person_can_reverse_it() {
    let (app, revops) = app().await;
    let id = rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "accept", "owner": "rep-2"}),
        true,
    )
    .await;
    let got = app.ingest(&lead("a", json!({"channel": "web"}))).await;
    assert_eq!(got["state"], "accepted");
    assert_eq!(got["owner"], "rep-2");
    let lead_id = got["id"].as_str().unwrap();
    assert_eq!(
        entry(&app, lead_id, "accepted").await["actor"],
        format!("rule:{id}")
    );
    // A person undoes it: recycled with a note, then re-routed by the CRM as a new cycle.
    let res = app
        .decide(
            lead_id,
            "recycle",
            &revops,
            &json!({"reason": "not_ready", "note": "rule was wrong", "on_behalf_of": "rep-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let again = app.ingest(&lead("a", json!({"channel": "email"}))).await;
    assert_eq!(
        (again["state"].as_str(), again["cycle"].as_i64()),
        (Some("routed"), Some(2))
    );
}

#[tokio::test]
async fn a_person_can_reassign_a_lead_a_rule_routed() {
    let (app, revops) = app().await;
    rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "route", "owner": "rep-2"}),
        true,
    )
    .await;
    let got = app.ingest(&lead("a", json!({"channel": "web"}))).await;
    let path = format!("/v1/leads/{}/assign", got["id"].as_str().unwrap());
    let res = app.post(&path, &revops, &json!({"owner": "rep-1"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.lead(got["id"].as_str().unwrap()).await["owner"],
        "rep-1"
    );
}

#[tokio::test]
async fn the_first_live_rule_by_position_acts() {
    let (app, revops) = app().await;
    let body = |position: i64, code: &str| {
        json!({"name": code, "position": position, "mode": "live",
        "condition": from_web(), "action": {"type": "reject", "code": code}})
    };
    for (p, code) in [(20, "out_of_icp"), (5, "competitor")] {
        let res = app.post("/v1/rules", &revops, &json!({"name": code, "position": p, "condition": from_web(), "action": {"type": "reject", "code": code}})).await;
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        super::put(&app, &revops, &format!("/v1/rules/{id}"), body(p, code)).await;
    }
    let got = app.ingest(&lead("a", json!({"channel": "web"}))).await;
    assert_eq!(got["rejection_code"], "competitor");
}

#[tokio::test]
async fn a_dry_run_rule_records_its_match_and_changes_nothing() {
    let (app, revops) = app().await;
    let sub = json!({"url": "https://hooks.example/in"});
    assert_eq!(
        app.post("/v1/webhook-subscriptions", &app.admin, &sub)
            .await
            .status(),
        201
    );
    let id = rule(
        &app,
        &revops,
        from_web(),
        json!({"type": "reject", "code": "out_of_territory"}),
        false,
    )
    .await;
    let matched = app.ingest(&lead("a", json!({"channel": "web"}))).await;
    let baseline = app.ingest(&lead("b", json!({"channel": "email"}))).await;
    for l in [&matched, &baseline] {
        assert_eq!(l["state"], "routed");
    }
    let (m, b) = (
        matched["id"].as_str().unwrap(),
        baseline["id"].as_str().unwrap(),
    );
    let kinds = |h: Vec<Value>| {
        h.iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(app.history(m).await), kinds(app.history(b).await));
    let deliveries = |lead: &str| {
        let q =
            "SELECT count(*) FROM webhook_deliveries WHERE (payload->'data'->'lead'->>'id') = $1";
        sqlx::query_scalar::<_, i64>(q)
            .bind(lead.to_string())
            .fetch_one(&app.pool)
    };
    assert_eq!(deliveries(m).await.unwrap(), deliveries(b).await.unwrap());
    assert_eq!(app.count("rule_dry_runs").await, 1);
    let shown: Value = app
        .get(&format!("/v1/rules/{id}"), &revops)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["dry_run"]["matches"], 1);
    assert_eq!(shown["dry_run"]["recent"][0]["lead_id"], m);
    assert_eq!(
        shown["dry_run"]["recent"][0]["action"]["code"],
        "out_of_territory"
    );
}
