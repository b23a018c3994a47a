//! RevOps reports (docs/api.md §6) with hand-computed expectations.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use salgate::{domain::Role, jobs::sla_scanner::SlaScanner};
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app, spawn_app_with, TestApp};

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// GETs a report as revops and returns its JSON.
pub async fn report(app: &TestApp, path: &str) -> Value {
    let revops = app.key(Role::Revops, None).await;
    let res = app.get(path, &revops).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// Ingests `n` demo requests for rep-1 at the clock's time; returns their ids.
async fn ingest_many(app: &TestApp, prefix: &str, n: usize, patch: Value) -> Vec<String> {
    let token = app.key(Role::Ingest, None).await;
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let mut body = lead(&format!("{prefix}-{i}"));
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post("/v1/leads", &token, &body).await;
        assert_eq!(res.status(), 201);
        ids.push(id(&res.json().await.unwrap()));
    }
    ids
}

async fn decide_ok(app: &TestApp, id: &str, action: &str, token: &str, body: Value) {
    let res = app.decide(id, action, token, &body).await;
    assert_eq!(res.status(), 200, "{action} {id}");
}

#[tokio::test]
async fn acceptance_reference_case_gives_0_62_and_healthy() {
    let app = spawn_app().await;
    let t0 = t("2026-03-02T09:00:00Z");
    app.clock.set(t0);
    let ids = ingest_many(&app, "ref", 400, json!({})).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    // Lead i is decided (i + 1) minutes after routing: 248 accepted, then 152 rejected.
    for (i, lead_id) in ids.iter().enumerate() {
        app.clock.set(t0 + Duration::minutes(i as i64 + 1));
        if i < 248 {
            decide_ok(&app, lead_id, "accept", &sdr, json!({})).await;
        } else {
            decide_ok(&app, lead_id, "reject", &sdr, json!({"code": "out_of_icp"})).await;
        }
    }
    let r = report(&app, "/v1/metrics/acceptance?from=2026-03-01&to=2026-03-08").await;
    // Demo requests are due within PT1H: the first 60 accepts were on time.
    // Decision times are 60 s … 24,000 s: p50 is the 200th (12,000 s), p90 the 360th.
    assert_eq!(
        r["total"],
        json!({
            "routed": 400, "accepted": 248, "rejected": 152, "recycled": 0, "open": 0,
            "accepted_within_sla": 60, "acceptance_rate": 0.62, "accepted_within_sla_rate": 0.15,
            "time_to_decision": {"p50": 12000.0, "p90": 21600.0}, "band": "healthy"
        })
    );
    assert_eq!(r["groups"], json!([]));
    assert_eq!(
        r["bands"],
        json!({"healthy_from": 0.6, "elevated_from": 0.75, "rubber_stamping_above": 0.85})
    );
}

#[tokio::test]
async fn nearly_everything_accepted_is_flagged_rubber_stamping() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let ids = ingest_many(&app, "rs", 20, json!({})).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for (i, lead_id) in ids.iter().enumerate() {
        if i < 18 {
            decide_ok(&app, lead_id, "accept", &sdr, json!({})).await;
        } else {
            decide_ok(&app, lead_id, "reject", &sdr, json!({"code": "duplicate"})).await;
        }
    }
    let r = report(&app, "/v1/metrics/acceptance?from=2026-03-02&to=2026-03-03").await;
    assert_eq!(r["total"]["acceptance_rate"], 0.9);
    assert_eq!(r["total"]["band"], "rubber_stamping");
}

#[tokio::test]
async fn band_limits_come_from_configuration() {
    let app = spawn_app_with(|s| {
        s.acceptance_bands = salgate::domain::metrics::BandLimits::new(0.5, 0.7, 0.95).unwrap();
    })
    .await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let ids = ingest_many(&app, "cfg", 10, json!({})).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for lead_id in &ids[..9] {
        decide_ok(&app, lead_id, "accept", &sdr, json!({})).await;
    }
    let r = report(&app, "/v1/metrics/acceptance?from=2026-03-02&to=2026-03-03").await;
    assert_eq!(r["total"]["acceptance_rate"], 0.9);
    assert_eq!(r["total"]["open"], 1);
    assert_eq!(r["total"]["band"], "elevated");
    assert_eq!(r["bands"]["rubber_stamping_above"], 0.95);
}

#[tokio::test]
async fn an_empty_period_gives_null_rates_and_every_empty_bucket() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    ingest_many(&app, "outside", 3, json!({})).await;
    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-01-05&to=2026-01-19&group_by=week",
    )
    .await;
    let empty = json!({
        "routed": 0, "accepted": 0, "rejected": 0, "recycled": 0, "open": 0,
        "accepted_within_sla": 0, "acceptance_rate": null, "accepted_within_sla_rate": null,
        "time_to_decision": {"p50": null, "p90": null}, "band": null
    });
    assert_eq!(r["total"], empty);
    let keys: Vec<&str> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2026-01-05", "2026-01-12"]);
    assert_eq!(r["groups"][0]["acceptance_rate"], Value::Null);
    let s = report(&app, "/v1/metrics/sla?from=2026-01-05&to=2026-01-19").await;
    assert_eq!(s["total"]["breach_rate"], Value::Null);
    assert_eq!(s["total"]["first_touch_compliance_rate"], Value::Null);
}

#[tokio::test]
async fn a_rerouted_lead_counts_once_per_cycle_with_that_cycles_fields() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let first = app.ingest(&lead("again")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    decide_ok(
        &app,
        &id(&first),
        "reject",
        &sdr,
        json!({"code": "no_budget"}),
    )
    .await;
    app.clock.set(t("2026-03-03T09:00:00Z"));
    let mut second = lead("again");
    second["lead_type"] = json!("pricing_request");
    let second = app.ingest(&second).await;
    assert_eq!(second["cycle"], 2);
    decide_ok(&app, &id(&second), "accept", &sdr, json!({})).await;

    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-03-01&to=2026-03-08&group_by=lead_type",
    )
    .await;
    assert_eq!(r["total"]["routed"], 2);
    assert_eq!(r["total"]["accepted"], 1);
    assert_eq!(r["total"]["rejected"], 1);
    assert_eq!(r["total"]["acceptance_rate"], 0.5);
    let groups: Vec<(String, i64, i64)> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                g["accepted"].as_i64().unwrap(),
                g["rejected"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("demo_request".to_string(), 0, 1),
            ("pricing_request".to_string(), 1, 0)
        ]
    );
}

#[tokio::test]
async fn weeks_group_across_the_year_boundary() {
    let app = spawn_app().await;
    app.clock.set(t("2027-01-06T12:00:00Z"));
    let token = app.key(Role::Ingest, None).await;
    // Sunday 27 Dec is in the week of 21 Dec; Sunday 3 Jan still in the week of 28 Dec.
    for (i, at) in [
        "2026-12-27T10:00:00Z",
        "2026-12-28T10:00:00Z",
        "2027-01-03T23:00:00Z",
        "2027-01-04T10:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let mut body = lead(&format!("yb-{i}"));
        body["routed_at"] = json!(at);
        assert_eq!(app.post("/v1/leads", &token, &body).await.status(), 201);
    }
    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-12-21&to=2027-01-11&group_by=week",
    )
    .await;
    let weeks: Vec<(String, i64)> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap().to_string(),
                g["routed"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        [
            ("2026-12-21".to_string(), 1),
            ("2026-12-28".to_string(), 2),
            ("2027-01-04".to_string(), 1)
        ]
    );
    // In Tokyo, 3 Jan 23:00 UTC is already Monday 4 Jan.
    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-12-21&to=2027-01-11&group_by=week&tz=Asia/Tokyo",
    )
    .await;
    let counts: Vec<i64> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["routed"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [1, 1, 2]);
}

#[tokio::test]
async fn rejection_trend_flags_codes_whose_share_rose_ten_points() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    // Week of 2 March: 8 out_of_icp, 2 no_budget. Week of 9 March: 5 and 5.
    for (week, start, icp) in [
        (1, "2026-03-02T10:00:00Z", 8),
        (2, "2026-03-09T10:00:00Z", 5),
    ] {
        app.clock.set(t(start));
        let ids = ingest_many(&app, &format!("w{week}"), 10, json!({})).await;
        for (i, lead_id) in ids.iter().enumerate() {
            let code = if i < icp { "out_of_icp" } else { "no_budget" };
            decide_ok(&app, lead_id, "reject", &sdr, json!({"code": code})).await;
        }
    }
    let r = report(&app, "/v1/metrics/rejections?from=2026-03-09&to=2026-03-16").await;
    assert_eq!(r["previous_from"], "2026-03-02T00:00:00Z");
    assert_eq!(
        r["total"],
        json!({"rejections": 10, "previous_rejections": 10, "codes": [
            {"code": "no_budget", "count": 5, "share": 0.5, "previous_share": 0.2, "rising": true},
            {"code": "out_of_icp", "count": 5, "share": 0.5, "previous_share": 0.8, "rising": false}
        ]})
    );
    let r = report(
        &app,
        "/v1/metrics/rejections?from=2026-03-02&to=2026-03-16&group_by=week",
    )
    .await;
    let g = r["groups"].as_array().unwrap();
    assert_eq!(g.len(), 2);
    // The first week has nothing before it to compare with.
    assert_eq!(g[0]["key"], "2026-03-02");
    assert_eq!(g[0]["previous_rejections"], 0);
    assert!(g[0]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["rising"] == false));
    assert_eq!(g[1]["codes"][0]["code"], "no_budget");
    assert_eq!(g[1]["codes"][0]["rising"], true);
    assert_eq!(g[1]["codes"][0]["previous_share"], 0.2);
}

#[tokio::test]
async fn reports_come_as_csv_when_asked() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T09:00:00Z"));
    let ids = ingest_many(&app, "csv", 2, json!({"campaign": "=cmd|' /C calc'!A0"})).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    decide_ok(&app, &ids[0], "accept", &sdr, json!({})).await;
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .client
        .get(app.url("/v1/metrics/acceptance?from=2026-03-02&to=2026-03-03&group_by=campaign"))
        .bearer_auth(&revops)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "scope,key,routed,accepted,rejected,recycled,open,accepted_within_sla,acceptance_rate,\
         accepted_within_sla_rate,time_to_decision_p50,time_to_decision_p90,band"
    );
    // The campaign name would be a formula in a spreadsheet: it is quoted off.
    assert_eq!(
        lines[1],
        "group,'=cmd|' /C calc'!A0,2,1,0,0,1,1,0.5,0.5,0,0,below_range"
    );
    assert_eq!(lines[2], "total,,2,1,0,0,1,1,0.5,0.5,0,0,below_range");
    assert_eq!(lines.len(), 3);
}

#[tokio::test]
async fn sla_report_counts_breaches_silent_leads_and_first_touches() {
    let app = spawn_app().await;
    let t0 = t("2026-03-02T10:00:00Z");
    app.clock.set(t0);
    let ids = ingest_many(&app, "sla", 3, json!({})).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    app.clock.set(t0 + Duration::minutes(10));
    decide_ok(&app, &ids[0], "accept", &sdr, json!({})).await;
    decide_ok(&app, &ids[1], "accept", &sdr, json!({})).await;
    app.clock.set(t0 + Duration::minutes(20));
    let res = app
        .post(
            &format!("/v1/leads/{}/touches", ids[0]),
            &sdr,
            &json!({"channel": "call"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Five hours on: lead 3 (due at 11:00) is breached and still open; lead 2's first touch
    // (due 4 h after its accept) was missed.
    app.clock.set(t0 + Duration::hours(5));
    SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()))
        .run_once()
        .await
        .unwrap();
    let r = report(&app, "/v1/metrics/sla?from=2026-03-02&to=2026-03-03").await;
    assert_eq!(r["as_of"], "2026-03-02T15:00:00Z");
    assert_eq!(
        r["total"],
        json!({
            "routed": 3, "breached": 1, "breach_rate": 0.3333, "open_past_due": 1,
            "first_touch_met": 1, "first_touch_missed": 1, "first_touch_compliance_rate": 0.5,
            "time_to_first_touch": {"p50": 1200.0, "p90": 1200.0}
        })
    );
}

#[tokio::test]
async fn recycling_report_follows_recycled_leads_into_later_cycles() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T10:00:00Z"));
    let ids = ingest_many(&app, "rc", 4, json!({})).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for (lead_id, reason) in ids[..3]
        .iter()
        .zip(["not_ready", "not_ready", "no_response"])
    {
        decide_ok(&app, lead_id, "recycle", &sdr, json!({"reason": reason})).await;
    }
    decide_ok(&app, &ids[3], "accept", &sdr, json!({})).await;
    // A week later marketing sends rc-0 and rc-1 again: one is accepted, one rejected.
    app.clock.set(t("2026-03-09T10:00:00Z"));
    let again = ingest_many(&app, "rc", 2, json!({})).await;
    decide_ok(&app, &again[0], "accept", &sdr, json!({})).await;
    decide_ok(
        &app,
        &again[1],
        "reject",
        &sdr,
        json!({"code": "no_budget"}),
    )
    .await;

    let r = report(&app, "/v1/metrics/recycling?from=2026-03-02&to=2026-03-09").await;
    assert_eq!(
        r["total"],
        json!({
            "routed": 4, "recycled": 3, "recycle_rate": 0.75, "rerouted": 2, "accepted_later": 1,
            "reroute_rate": 0.6667, "recycle_conversion_rate": 0.3333,
            "reasons": [
                {"reason": "not_ready", "count": 2, "share": 0.6667},
                {"reason": "no_response", "count": 1, "share": 0.3333}
            ]
        })
    );
    // The second cycles were not recycled; the acceptance report counts them on their own.
    let a = report(&app, "/v1/metrics/acceptance?from=2026-03-02&to=2026-03-16").await;
    assert_eq!(a["total"]["routed"], 6);
    assert_eq!(a["total"]["recycled"], 3);
    assert_eq!(a["total"]["accepted"], 2);
}

#[tokio::test]
async fn filters_narrow_every_report_to_matching_cycles() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T10:00:00Z"));
    ingest_many(
        &app,
        "spring",
        3,
        json!({"campaign": "spring", "channel": "paid"}),
    )
    .await;
    ingest_many(
        &app,
        "fall",
        2,
        json!({"campaign": "fall", "owner": "rep-2"}),
    )
    .await;
    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-03-02&to=2026-03-03&campaign=spring&channel=paid",
    )
    .await;
    assert_eq!(r["total"]["routed"], 3);
    assert_eq!(
        r["filters"],
        json!({"campaign": "spring", "channel": "paid"})
    );
    let r = report(
        &app,
        "/v1/metrics/acceptance?from=2026-03-02&to=2026-03-03&group_by=owner",
    )
    .await;
    let owners: Vec<(&str, i64)> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["key"].as_str().unwrap(), g["routed"].as_i64().unwrap()))
        .collect();
    assert_eq!(owners, [("rep-1", 3), ("rep-2", 2)]);
}

#[tokio::test]
async fn bad_report_parameters_are_named_and_sdrs_are_refused() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .get(
            "/v1/metrics/acceptance?from=yesterday&group_by=year&tz=Mars/Olympus&colour=red",
            &revops,
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["tz", "from", "group_by", "colour"]);
    let res = app
        .get("/v1/metrics/sla?from=2026-03-02&to=2026-03-01", &revops)
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["to"]);
    // Issue: 1600 dropped the connection (a panic), -4800 gave 500.
    for (report, query, named) in [
        (
            "acceptance",
            "from=1600-01-01&to=1600-02-01",
            &["from", "to"][..],
        ),
        (
            "acceptance",
            "from=1600-01-01&to=1600-02-01&group_by=week",
            &["from", "to"],
        ),
        (
            "rejections",
            "from=-4800-01-01&to=-4800-02-01",
            &["from", "to"],
        ),
        ("sla", "from=-4800-01-01&to=-4800-02-01", &["from", "to"]),
        (
            "recycling",
            "from=2199-12-01&to=2200-01-01&tz=Asia/Tokyo",
            &["to"],
        ),
        (
            "acceptance",
            "from=1969-12-31T00:00:00Z&to=1970-01-05",
            &["from"],
        ),
    ] {
        let res = app
            .get(&format!("/v1/metrics/{report}?{query}"), &revops)
            .await;
        let p = problem(res, 422, "validation_failed").await;
        assert_eq!(fields(&p), named, "{report}?{query}");
    }
    let res = app
        .get(
            "/v1/metrics/rejections?from=1970-01-01&to=1970-02-01",
            &revops,
        )
        .await;
    assert_eq!(res.status(), 200, "the earliest period answers");
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app.get("/v1/metrics/rejections", &sdr).await;
    problem(res, 403, "forbidden").await;
}

/// `(key, routed)` of each group of a report.
fn routed_per_group(r: &Value) -> Vec<(String, i64)> {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let key = g["key"].as_str().unwrap().to_string();
            (key, g["routed"].as_i64().unwrap())
        })
        .collect()
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[tokio::test]
async fn the_queue_filter_and_the_queue_and_month_groupings_count_each_cycle_once() {
    let app = spawn_app().await;
    app.clock.set(t("2026-04-10T12:00:00Z"));
    let token = app.key(Role::Ingest, None).await;
    for (i, (queue, at)) in [
        ("emea", "2026-02-27T10:00:00Z"),
        ("emea", "2026-03-01T00:30:00Z"),
        ("emea", "2026-03-31T23:00:00Z"),
        ("na", "2026-03-15T10:00:00Z"),
        ("na", "2026-04-01T00:00:00Z"),
    ]
    .iter()
    .enumerate()
    {
        let mut body = lead(&format!("mq-{i}"));
        body["queue"] = json!(queue);
        body["routed_at"] = json!(at);
        assert_eq!(app.post("/v1/leads", &token, &body).await.status(), 201);
    }
    let range = "from=2026-02-01&to=2026-05-01";
    let r = report(&app, &format!("/v1/metrics/acceptance?{range}&queue=emea")).await;
    assert_eq!(r["total"]["routed"], 3);
    assert_eq!(r["filters"], json!({"queue": "emea"}));
    let r = report(
        &app,
        &format!("/v1/metrics/acceptance?{range}&group_by=queue"),
    )
    .await;
    assert_eq!(routed_per_group(&r), pairs(&[("emea", 3), ("na", 2)]));
    let r = report(
        &app,
        &format!("/v1/metrics/acceptance?{range}&group_by=month"),
    )
    .await;
    assert_eq!(
        routed_per_group(&r),
        pairs(&[("2026-02-01", 1), ("2026-03-01", 3), ("2026-04-01", 1)])
    );
    assert_eq!(r["total"]["routed"], 5);
    // A filtered report is bucketed by its own query (not from the cycle hours): emea's leads
    // half an hour after March begins and an hour before it ends stay in March there too.
    for (queue, expected) in [
        (
            "na",
            [("2026-02-01", 0), ("2026-03-01", 1), ("2026-04-01", 1)],
        ),
        (
            "emea",
            [("2026-02-01", 1), ("2026-03-01", 2), ("2026-04-01", 0)],
        ),
    ] {
        let path = format!("/v1/metrics/acceptance?{range}&group_by=month&queue={queue}");
        let r = report(&app, &path).await;
        assert_eq!(routed_per_group(&r), pairs(&expected), "queue {queue}");
    }
}

#[tokio::test]
async fn rebuilding_an_hour_numbers_no_report_symbol_twice() {
    let app = spawn_app().await;
    let ahead = salgate::clock::ManualClock::new(
        salgate::clock::Clock::now(&app.clock) + Duration::days(1),
    );
    let compactor =
        salgate::jobs::cycle_compactor::CycleCompactor::new(app.pool.clone(), Arc::new(ahead));
    // Each ingest marks the same hour with the same names; each drain rebuilds it.
    for i in 0..3 {
        app.ingest(&lead(&format!("sym-{i}"))).await;
        compactor.drain(&Default::default()).await.unwrap();
    }
    // A name seen for the first time after those rebuilds takes the next id, not a later one.
    let mut body = lead("sym-new");
    body["campaign"] = json!("a-campaign-first-seen-now");
    app.ingest(&body).await;
    compactor.drain(&Default::default()).await.unwrap();
    let (count, max): (i64, Option<i32>) =
        sqlx::query_as("SELECT count(*), max(id) FROM report_symbols")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(count > 0);
    assert_eq!(max.map(i64::from), Some(count), "ids stay dense");
}
