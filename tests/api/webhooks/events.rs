//! Every event type of docs/api.md §7, by name, reaches a subscription filtered to it (and
//! nothing else does), with the documented envelope: the lead as the API showed it right after
//! the change, and the history entry. SLA flags come from the scanner on the manual clock;
//! deliveries are counted at the receivers.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use reqwest::Method;
use salgate::{domain::Role, jobs::sla_scanner::SlaScanner};
use serde_json::{json, Value};

use super::{dispatcher, subscribe, Receiver};
use crate::helpers::{lead, TestApp};

const TYPES: [&str; 9] = [
    "lead.routed",
    "lead.assigned",
    "lead.accepted",
    "lead.rejected",
    "lead.recycled",
    "lead.touched",
    "lead.sla_at_risk",
    "lead.sla_breached",
    "lead.first_touch_breached",
];

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn scanner(app: &TestApp) -> SlaScanner {
    SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()))
}

/// One receiver per event type, each behind a subscription to that type alone.
async fn one_subscription_per_type(app: &TestApp) -> HashMap<&'static str, Receiver> {
    let mut out = HashMap::new();
    for ty in TYPES {
        let (r, url) = Receiver::start().await;
        subscribe(app, &url, json!([ty])).await;
        out.insert(ty, r);
    }
    out
}

/// What one receiver got: (Salgate-Event-Type, Salgate-Event-Id, body), in arrival order.
fn got(r: &Receiver) -> Vec<(String, String, Value)> {
    r.got
        .lock()
        .unwrap()
        .iter()
        .map(|(h, b)| {
            let header = |n: &str| h[n].to_str().unwrap().to_string();
            let body = serde_json::from_slice(b).unwrap();
            (
                header("salgate-event-type"),
                header("salgate-event-id"),
                body,
            )
        })
        .collect()
}

/// The single event `r` got, checked against the envelope every event has.
fn only_event(r: &Receiver, ty: &str) -> Value {
    let events = got(r);
    assert_eq!(events.len(), 1, "{ty}: {events:?}");
    let (header_ty, header_id, body) = events.into_iter().next().unwrap();
    assert_eq!(header_ty, ty);
    assert_eq!(body["type"], ty);
    assert_eq!(body["id"], header_id.as_str());
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["data", "id", "occurred_at", "type"], "{ty}");
    let entry = &body["data"]["entry"];
    assert_eq!(entry["cycle"], 1, "{ty}");
    for k in ["kind", "actor", "rep", "code", "note"] {
        assert!(entry.get(k).is_some(), "{ty}: entry without {k}: {entry}");
    }
    body
}

#[tokio::test]
async fn each_event_type_reaches_the_subscription_for_it_with_its_documented_payload() {
    let app = crate::helpers::spawn_app().await;
    let subs = one_subscription_per_type(&app).await;
    let rep1 = app.key(Role::Sdr, Some("rep-1")).await;
    let rep2 = app.key(Role::Sdr, Some("rep-2")).await;
    // The lead as GET showed it right after each change, by event type.
    let mut shown: HashMap<&str, Value> = HashMap::new();
    app.clock.set(t("2026-03-02T10:00:00Z"));
    let a = app.ingest(&lead("ev-a")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    shown.insert("lead.routed", app.lead(&a).await);
    let b = app.ingest(&lead("ev-b")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = app.ingest(&lead("ev-c")).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    app.clock.set(t("2026-03-02T10:05:00Z"));
    let res = app
        .post(
            &format!("/v1/leads/{a}/assign"),
            &app.admin,
            &json!({"owner": "rep-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    shown.insert("lead.assigned", app.lead(&a).await);
    app.clock.set(t("2026-03-02T10:10:00Z"));
    assert_eq!(
        app.decide(&b, "accept", &rep1, &json!({})).await.status(),
        200
    );
    shown.insert("lead.accepted", app.lead(&b).await);
    app.clock.set(t("2026-03-02T10:20:00Z"));
    let rejected = app
        .decide(&c, "reject", &rep1, &json!({"code": "duplicate"}))
        .await;
    assert_eq!(rejected.status(), 200);
    shown.insert("lead.rejected", app.lead(&c).await);

    let scan = scanner(&app);
    app.clock.set(t("2026-03-02T10:46:00Z"));
    assert_eq!(scan.run_once().await.unwrap().counts.at_risk, 1);
    shown.insert("lead.sla_at_risk", app.lead(&a).await);
    app.clock.set(t("2026-03-02T11:01:00Z"));
    assert_eq!(scan.run_once().await.unwrap().counts.breached, 1);
    shown.insert("lead.sla_breached", app.lead(&a).await);
    app.clock.set(t("2026-03-02T11:05:00Z"));
    let recycle = json!({"reason": "not_ready"});
    assert_eq!(
        app.decide(&a, "recycle", &rep2, &recycle).await.status(),
        200
    );
    shown.insert("lead.recycled", app.lead(&a).await);
    app.clock.set(t("2026-03-02T14:11:00Z"));
    assert_eq!(
        scan.run_once().await.unwrap().counts.first_touch_breached,
        1
    );
    shown.insert("lead.first_touch_breached", app.lead(&b).await);
    app.clock.set(t("2026-03-02T14:20:00Z"));
    let touch = app
        .post(
            &format!("/v1/leads/{b}/touches"),
            &rep1,
            &json!({"channel": "call"}),
        )
        .await;
    assert_eq!(touch.status(), 201);
    shown.insert("lead.touched", app.lead(&b).await);

    dispatcher(&app).drain(&Default::default()).await.unwrap();

    // Three leads routed; every other type happened once, and reached only its subscriber.
    let routed = got(&subs["lead.routed"]);
    let routed_ids: Vec<&Value> = routed
        .iter()
        .map(|(_, _, b)| &b["data"]["lead"]["id"])
        .collect();
    assert_eq!(routed_ids, [&json!(a), &json!(b), &json!(c)]);
    assert!(routed
        .iter()
        .all(|(ty, _, b)| ty == "lead.routed" && b["type"] == "lead.routed"));
    let routed = &routed[0].2;
    assert_eq!(routed["data"]["lead"], shown["lead.routed"]);
    assert_eq!(routed["data"]["entry"]["kind"], "routed");

    for ty in &TYPES[1..] {
        let body = only_event(&subs[ty], ty);
        assert_eq!(
            body["data"]["lead"], shown[ty],
            "{ty}: the lead as the API showed it"
        );
    }
    let entry = |ty: &str| only_event(&subs[ty], ty)["data"]["entry"].clone();
    let when = |ty: &str| only_event(&subs[ty], ty)["occurred_at"].clone();

    let e = entry("lead.assigned");
    assert_eq!(
        (e["kind"].as_str(), e["rep"].as_str()),
        (Some("assigned"), Some("rep-2"))
    );
    assert_eq!(e["data"]["from"], "rep-1");
    assert_eq!(when("lead.assigned"), "2026-03-02T10:05:00Z");
    let e = entry("lead.accepted");
    assert_eq!(
        (e["kind"].as_str(), e["rep"].as_str()),
        (Some("accepted"), Some("rep-1"))
    );
    let e = entry("lead.rejected");
    assert_eq!(
        (e["kind"].as_str(), e["code"].as_str()),
        (Some("rejected"), Some("duplicate"))
    );
    let e = entry("lead.recycled");
    assert_eq!(
        (e["kind"].as_str(), e["rep"].as_str()),
        (Some("recycled"), Some("rep-2"))
    );
    assert_eq!(e["code"], "not_ready");
    assert_eq!(entry("lead.touched")["kind"], "touched");
    assert_eq!(when("lead.touched"), "2026-03-02T14:20:00Z");

    // The scanner's flags: actor system, occurred at the deadline, the lead's SLA as of then.
    for (ty, kind, at) in [
        ("lead.sla_at_risk", "sla_at_risk", "2026-03-02T10:45:00Z"),
        ("lead.sla_breached", "sla_breached", "2026-03-02T11:00:00Z"),
        (
            "lead.first_touch_breached",
            "first_touch_breached",
            "2026-03-02T14:10:00Z",
        ),
    ] {
        let e = entry(ty);
        assert_eq!(
            (e["kind"].as_str(), e["actor"].as_str()),
            (Some(kind), Some("system")),
            "{ty}"
        );
        assert_eq!(when(ty), at, "{ty}");
    }
    let lead_of = |ty: &str| only_event(&subs[ty], ty)["data"]["lead"].clone();
    assert_eq!(lead_of("lead.sla_at_risk")["sla"]["status"], "at_risk");
    let breached = lead_of("lead.sla_breached");
    assert_eq!(breached["sla"]["status"], "breached");
    assert_eq!(breached["sla"]["breached_at"], "2026-03-02T11:00:00Z");
    let late = lead_of("lead.first_touch_breached");
    assert_eq!(late["state"], "accepted");
    assert_eq!(
        late["sla"]["first_touch"]["breached_at"],
        "2026-03-02T14:10:00Z"
    );
    assert_eq!(lead_of("lead.recycled")["state"], "recycled");
}

/// `lead.assigned` is also reassignment by the escalation ladder, return to the queue, and a
/// claim from it (docs/api.md §7).
#[tokio::test]
async fn reassignment_return_to_queue_and_claims_are_lead_assigned_events() {
    let app = crate::helpers::spawn_app().await;
    let put = |path: String, body: Value| {
        let app = &app;
        async move {
            let res = app
                .request(Method::PUT, &path, &app.admin, Some(&body))
                .await;
            assert_eq!(res.status(), 200, "{path}");
        }
    };
    put(
        "/v1/sla-policies/demo_request".into(),
        json!({"accept_within": "PT1H", "first_touch_within": "PT4H", "on_breach": "reassign"}),
    )
    .await;
    put("/v1/queues/emea".into(), json!({"strategy": "round_robin"})).await;
    for rep in ["a", "b"] {
        put(format!("/v1/reps/{rep}"), json!({"queues": ["emea"]})).await;
    }
    let (receiver, url) = Receiver::start().await;
    subscribe(&app, &url, json!(["lead.assigned"])).await;
    app.clock.set(t("2026-03-02T10:00:00Z"));
    let mut body = lead("ev-q");
    body["owner"] = Value::Null;
    let id = app.ingest(&body).await["id"].as_str().unwrap().to_string();
    let scan = scanner(&app);
    app.clock.set(t("2026-03-02T11:00:30Z"));
    assert_eq!(scan.run_once().await.unwrap().reassigned, 1);
    app.clock.set(t("2026-03-02T12:01:00Z"));
    assert_eq!(scan.run_once().await.unwrap().counts.returned_to_queue, 1);
    app.clock.set(t("2026-03-02T12:05:00Z"));
    let sdr = app.key(Role::Sdr, Some("a")).await;
    let res = app.post("/v1/queues/emea/claim", &sdr, &json!({})).await;
    assert_eq!(res.status(), 200);

    dispatcher(&app).drain(&Default::default()).await.unwrap();
    let events = got(&receiver);
    let seen: Vec<(&str, &str, Option<&str>, &str)> = events
        .iter()
        .map(|(ty, _, b)| {
            assert_eq!(b["data"]["lead"]["id"], id.as_str());
            (
                ty.as_str(),
                b["data"]["entry"]["kind"].as_str().unwrap(),
                b["data"]["lead"]["owner"].as_str(),
                b["occurred_at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                "lead.assigned",
                "reassigned",
                Some("b"),
                "2026-03-02T11:00:30Z"
            ),
            (
                "lead.assigned",
                "returned_to_queue",
                None,
                "2026-03-02T12:01:00Z"
            ),
            (
                "lead.assigned",
                "assigned",
                Some("a"),
                "2026-03-02T12:05:00Z"
            ),
        ]
    );
}
