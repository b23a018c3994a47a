//! The backtest against counts made by hand: cycles routed in the period, decided by people
//! in known ways.

use serde_json::{json, Value};

use super::{app, lead};

#[tokio::test]
async fn a_backtest_counts_what_people_decided_about_the_cycles_it_matches() {
    let (app, revops) = app().await;
    let t0 = salgate::clock::Clock::now(&app.clock);
    // Six leads from web, four from email; people decide them as below.
    let plan = [
        ("w1", "web", "reject:out_of_territory"),
        ("w2", "web", "reject:out_of_territory"),
        ("w3", "web", "reject:out_of_icp"),
        ("w4", "web", "accept"),
        ("w5", "web", "recycle:not_ready"),
        ("w6", "web", "open"),
        ("e1", "email", "accept"),
        ("e2", "email", "accept"),
        ("e3", "email", "accept"),
        ("e4", "email", "reject:out_of_icp"),
    ];
    for (id, channel, decision) in plan {
        let got = app
            .ingest(&lead(
                id,
                json!({"channel": channel, "owner": "rep-1", "queue": null}),
            ))
            .await;
        let lead_id = got["id"].as_str().unwrap();
        let body = match decision.split_once(':') {
            Some(("reject", code)) => {
                Some(("reject", json!({"code": code, "on_behalf_of": "rep-1"})))
            }
            Some(("recycle", reason)) => Some((
                "recycle",
                json!({"reason": reason, "on_behalf_of": "rep-1"}),
            )),
            _ if decision == "accept" => Some(("accept", json!({"on_behalf_of": "rep-1"}))),
            _ => None,
        };
        if let Some((action, body)) = body {
            assert_eq!(
                app.decide(lead_id, action, &revops, &body).await.status(),
                200
            );
        }
    }
    let body = json!({
        "rule": {"name": "web out", "position": 1,
                 "condition": {"all": [{"field": "channel", "op": "eq", "value": "web"}]},
                 "action": {"type": "reject", "code": "out_of_territory"}},
        "from": (t0 - chrono::Duration::hours(1)).to_rfc3339(),
        "to": (t0 + chrono::Duration::hours(1)).to_rfc3339(),
    });
    let res = app.post("/v1/rules/backtest", &revops, &body).await;
    assert_eq!(res.status(), 200);
    let got: Value = res.json().await.unwrap();
    // By hand: 10 cycles, 6 matched (3 rejected: 2 out_of_territory, 1 out_of_icp; 1 accepted;
    // 1 recycled; 1 open); accepted 4 of 10, and 3 of the 4 unmatched.
    assert_eq!(got["cycles"], 10);
    assert_eq!(got["matched"], 6);
    assert_eq!(
        got["decisions"],
        json!({"accepted": 1, "rejected": 3, "recycled": 1, "open": 1})
    );
    assert_eq!(
        got["rejection_codes"],
        json!({"out_of_territory": 2, "out_of_icp": 1})
    );
    assert_eq!(got["recycle_reasons"], json!({"not_ready": 1}));
    assert_eq!(
        got["acceptance_rate"],
        json!({"all": 0.4, "without_matched": 0.75})
    );
    // A period before the cycles matches nothing.
    let mut empty = body.clone();
    empty["to"] = empty["from"].clone();
    empty["from"] = (t0 - chrono::Duration::hours(2)).to_rfc3339().into();
    let got: Value = app
        .post("/v1/rules/backtest", &revops, &empty)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            got["cycles"].as_i64(),
            got["acceptance_rate"]["all"].is_null()
        ),
        (Some(0), true)
    );
}

#[tokio::test]
async fn a_backtest_over_lead_columns_and_facts_reads_them_from_the_lead() {
    let (app, revops) = app().await;
    let t0 = salgate::clock::Clock::now(&app.clock);
    for (id, email) in [
        ("a", "x@gmail.com"),
        ("b", "y@corp.example"),
        ("c", "z@gmail.com"),
    ] {
        app.ingest(&lead(id, json!({"email": email, "title": "CTO"})))
            .await;
    }
    let body = json!({
        "rule": {"name": "free", "position": 1,
                 "condition": {"all": [{"field": "free_mail", "op": "eq", "value": true},
                                       {"field": "title", "op": "eq", "value": "CTO"}]},
                 "action": {"type": "reject", "code": "out_of_territory"}},
        "from": (t0 - chrono::Duration::hours(1)).to_rfc3339(),
        "to": (t0 + chrono::Duration::hours(1)).to_rfc3339(),
    });
    let got: Value = app
        .post("/v1/rules/backtest", &revops, &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (got["cycles"].as_i64(), got["matched"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(got["decisions"]["open"], 2);
    // One lead column alone: only the columns a rule reads are decoded, and this one is.
    let mut email = body.clone();
    email["rule"]["condition"] =
        json!({"all": [{"field": "email", "op": "matches", "value": "@gmail[.]com$"}]});
    let got: Value = app
        .post("/v1/rules/backtest", &revops, &email)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["matched"], 2, "{got}");
    let mut bad = body.clone();
    bad["rule"]["condition"]["all"][0]["op"] = "between".into();
    bad["to"] = "yesterday".into();
    let res = app.post("/v1/rules/backtest", &revops, &bad).await;
    let p = crate::helpers::problem(res, 422, "validation_failed").await;
    assert_eq!(
        crate::helpers::fields(&p),
        ["to", "rule.condition.all[0].op"]
    );
}
