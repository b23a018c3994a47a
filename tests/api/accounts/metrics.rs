//! The reports' `decided_by` split and `account` dimension, from raw cycles and from
//! compacted blocks alike.

use chrono::Duration;
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use super::{account_of, lead_of, reject_by_rule};
use crate::{
    helpers::{spawn_app, TestApp},
    metrics::report,
};

fn period(app: &TestApp) -> String {
    let now = app.clock.now();
    format!(
        "from={}&to={}",
        (now - Duration::days(1)).format("%Y-%m-%dT%H:00:00Z"),
        (now + Duration::days(1)).format("%Y-%m-%dT%H:00:00Z")
    )
}

#[tokio::test]
async fn a_rules_decision_is_left_out_of_the_person_acceptance_rate_and_counted_under_rule() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let lead = app
            .ingest(&lead_of(
                &format!("r-{i}"),
                Some("Acme"),
                None,
                "a@gmail.com",
            ))
            .await;
        ids.push(lead["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        assert_eq!(
            app.decide(id, "accept", &sdr, &json!({})).await.status(),
            200
        );
    }
    let res = app
        .decide(&ids[2], "reject", &sdr, &json!({"code": "no_budget"}))
        .await;
    assert_eq!(res.status(), 200);
    assert!(reject_by_rule(&app, &ids[3], "out_of_icp", "r1").await);
    // ids[4] stays open: a person's to decide.
    let p = period(&app);
    for round in ["raw", "compacted"] {
        let person = report(
            &app,
            &format!("/v1/metrics/acceptance?{p}&decided_by=person"),
        )
        .await;
        assert_eq!(person["total"]["routed"], 4, "{round}");
        assert_eq!(person["total"]["accepted"], 2, "{round}");
        assert_eq!(person["total"]["rejected"], 1, "{round}");
        assert_eq!(person["total"]["acceptance_rate"], 0.5, "{round}");
        assert_eq!(person["filters"], json!({"decided_by": "person"}));
        let rule = report(&app, &format!("/v1/metrics/acceptance?{p}&decided_by=rule")).await;
        assert_eq!(rule["total"]["routed"], 1, "{round}");
        assert_eq!(rule["total"]["rejected"], 1, "{round}");
        assert_eq!(rule["total"]["acceptance_rate"], 0.0, "{round}");
        let all = report(
            &app,
            &format!("/v1/metrics/acceptance?{p}&group_by=decided_by"),
        )
        .await;
        assert_eq!(all["total"]["routed"], 5, "{round}");
        let groups: Vec<(Value, Value)> = all["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["key"].clone(), g["routed"].clone()))
            .collect();
        assert_eq!(
            groups,
            [(json!("person"), json!(4)), (json!("rule"), json!(1))],
            "{round}"
        );
        let codes = report(&app, &format!("/v1/metrics/rejections?{p}&decided_by=rule")).await;
        assert_eq!(codes["total"]["codes"][0]["code"], "out_of_icp", "{round}");
        assert_eq!(codes["total"]["rejections"], 1, "{round}");
        app.compact().await;
    }
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .get(
            &format!("/v1/metrics/acceptance?{p}&decided_by=robot"),
            &revops,
        )
        .await;
    let body = crate::helpers::problem(res, 422, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&body), ["decided_by"]);
}

#[tokio::test]
async fn reports_group_and_filter_by_account_and_follow_a_merge() {
    let app = spawn_app().await;
    let acme = account_of(
        &app,
        &lead_of("m-1", Some("Acme"), Some("acme.io"), "a@acme.io"),
    )
    .await;
    account_of(&app, &lead_of("m-2", None, None, "b@acme.io")).await;
    let globex = account_of(
        &app,
        &lead_of("m-3", Some("Globex"), Some("globex.com"), "g@x.org"),
    )
    .await;
    account_of(&app, &lead_of("m-4", None, None, "solo@gmail.com")).await;
    let (acme, globex) = (
        acme.as_str().unwrap().to_owned(),
        globex.as_str().unwrap().to_owned(),
    );
    let p = period(&app);
    let groups = |r: &Value| -> Vec<(Value, Value)> {
        r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["key"].clone(), g["routed"].clone()))
            .collect()
    };
    let mut keyed = vec![(json!(acme), json!(2)), (json!(globex), json!(1))];
    keyed.sort_by_key(|k| k.0.as_str().unwrap().to_owned());
    keyed.push((Value::Null, json!(1)));
    for round in ["raw", "compacted"] {
        let r = report(
            &app,
            &format!("/v1/metrics/acceptance?{p}&group_by=account"),
        )
        .await;
        assert_eq!(groups(&r), keyed, "{round}");
        assert_eq!(
            r["account_names"],
            json!({&acme: "Acme", &globex: "Globex"}),
            "{round}"
        );
        let r = report(&app, &format!("/v1/metrics/sla?{p}&account={acme}")).await;
        assert_eq!(r["total"]["routed"], 2, "{round}");
        app.compact().await;
    }
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .post(
            &format!("/v1/accounts/{globex}/merge"),
            &revops,
            &json!({"into": acme}),
        )
        .await;
    assert_eq!(res.status(), 200);
    for round in ["raw", "compacted"] {
        let r = report(&app, &format!("/v1/metrics/recycling?{p}&account={acme}")).await;
        assert_eq!(r["total"]["routed"], 3, "{round}");
        let r = report(
            &app,
            &format!("/v1/metrics/acceptance?{p}&group_by=account"),
        )
        .await;
        assert_eq!(
            groups(&r),
            [(json!(acme), json!(3)), (Value::Null, json!(1))],
            "{round}"
        );
        app.compact().await;
    }
    let res = app
        .get(&format!("/v1/metrics/acceptance?{p}&account=acme"), &revops)
        .await;
    let body = crate::helpers::problem(res, 422, "validation_failed").await;
    assert_eq!(crate::helpers::fields(&body), ["account"]);
}
