//! The funnel report, band evidence and campaign spend, against histories planted here, with
//! every expected figure worked out by hand in the comments.

use chrono::{DateTime, Duration, Utc};
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app, TestApp};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const T0: &str = "2026-03-02T09:00:00Z";
const PERIOD: &str = "from=2026-03-01&to=2026-03-11";

/// Ingests a lead of `campaign` routed at T0; returns its id.
async fn routed(app: &TestApp, ext: &str, campaign: &str) -> String {
    let mut body = lead(ext);
    body["campaign"] = json!(campaign);
    body["routed_at"] = json!(T0);
    app.ingest(&body).await["id"].as_str().unwrap().to_string()
}

async fn decide(app: &TestApp, id: &str, action: &str, body: Value) {
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app.decide(id, action, &sdr, &body).await;
    assert_eq!(res.status(), 200, "{action} {id}");
}

/// Posts an outcome `minutes` after T0 + 10 min (every acceptance's time here).
async fn outcome(app: &TestApp, id: &str, kind: &str, minutes: i64, amount: Option<(f64, &str)>) {
    let at = t(T0) + Duration::minutes(10 + minutes);
    let mut body = json!({"kind": kind, "at": at.to_rfc3339(),
                          "external_id": format!("{kind}-{minutes}")});
    if let Some((a, c)) = amount {
        body["amount"] = json!(a);
        body["currency"] = json!(c);
    }
    let res = app
        .post(&format!("/v1/leads/{id}/outcomes"), &app.admin, &body)
        .await;
    assert_eq!(res.status(), 201, "{kind} on {id}");
}

async fn get(app: &TestApp, path: &str) -> Value {
    let res = app.get(path, &app.admin).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

/// Campaign `a`: a0 accepted → meeting booked (+1 h), SQL (+2 h), opportunity 1000 EUR (+3 h),
/// won (+4 h); a1 accepted → meeting held (+2 h); a2 accepted, nothing; a3 rejected with a
/// booked meeting (not counted: the funnel follows accepted cycles).
/// Campaign `b`: b0 accepted → SQL (+30 min, so a meeting too), opportunities 500 EUR and
/// 200 USD (+1 h); b1 accepted → lost.
async fn planted() -> TestApp {
    let app = spawn_app().await;
    app.clock.set(t(T0));
    let ids: Vec<String> = {
        let mut v = Vec::new();
        for (ext, c) in [
            ("a0", "a"),
            ("a1", "a"),
            ("a2", "a"),
            ("a3", "a"),
            ("b0", "b"),
            ("b1", "b"),
        ] {
            v.push(routed(&app, ext, c).await);
        }
        v
    };
    app.clock.set(t(T0) + Duration::minutes(10));
    for (i, id) in ids.iter().enumerate() {
        if i == 3 {
            decide(&app, id, "reject", json!({"code": "no_budget"})).await;
        } else {
            decide(&app, id, "accept", json!({})).await;
        }
    }
    app.clock.set(t(T0) + Duration::hours(6));
    let (a0, a1, a3, b0, b1) = (&ids[0], &ids[1], &ids[3], &ids[4], &ids[5]);
    outcome(&app, a0, "meeting_booked", 60, None).await;
    outcome(&app, a0, "sql", 120, None).await;
    outcome(&app, a0, "opportunity", 180, Some((1000.0, "EUR"))).await;
    outcome(&app, a0, "won", 240, None).await;
    outcome(&app, a1, "meeting_held", 120, None).await;
    outcome(&app, a3, "meeting_booked", 60, None).await;
    outcome(&app, b0, "sql", 30, None).await;
    outcome(&app, b0, "opportunity", 60, Some((500.0, "EUR"))).await;
    outcome(&app, b0, "opportunity", 61, Some((200.0, "USD"))).await;
    outcome(&app, b1, "lost", 60, None).await;
    app
}

#[tokio::test]
async fn funnel_figures_match_the_planted_history() {
    let app = planted().await;
    let r = get(
        &app,
        &format!("/v1/metrics/funnel?{PERIOD}&group_by=campaign"),
    )
    .await;
    let total = &r["total"];
    // 6 routed, 5 accepted; meeting a0 a1 b0; SQL a0 b0; opportunity a0 b0; won a0; lost b1.
    let counts = [
        "routed",
        "accepted",
        "meeting",
        "sql",
        "opportunity",
        "won",
        "lost",
    ]
    .map(|k| total[k].as_i64().unwrap());
    assert_eq!(counts, [6, 5, 3, 2, 2, 1, 1], "{total}");
    let rates = &total["rates"];
    assert_eq!(rates["accepted"]["of_previous"], 0.8333); // 5 / 6
    assert_eq!(rates["meeting"]["of_previous"], 0.6); // 3 / 5
    assert_eq!(rates["meeting"]["of_routed"], 0.5); // 3 / 6
    assert_eq!(rates["sql"]["of_previous"], 0.6667); // 2 / 3
    assert_eq!(rates["opportunity"]["of_previous"], 1.0); // 2 / 2
    assert_eq!(rates["won"]["of_previous"], 0.5); // 1 / 2
    assert_eq!(rates["won"]["of_routed"], 0.1667); // 1 / 6
                                                   // EUR twice, USD once: EUR. 1000 + 500 over 5 accepted; the USD one is left out.
    assert_eq!(r["currency"], "EUR");
    assert_eq!(total["pipeline_amount"], 1500.0);
    assert_eq!(total["pipeline_per_accepted"], 300.0);
    assert_eq!(total["other_currency_amounts"], 1);
    // To a meeting: b0 1800 s (its SQL), a0 3600, a1 7200 → p50 3600, p90 7200.
    let times = &total["time_from_acceptance"];
    assert_eq!(times["meeting"], json!({"p50": 3600.0, "p90": 7200.0}));
    assert_eq!(times["sql"], json!({"p50": 1800.0, "p90": 7200.0}));
    assert_eq!(times["won"], json!({"p50": 14400.0, "p90": 14400.0}));
    let groups = r["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let (a, b) = (&groups[0], &groups[1]);
    assert_eq!(a["key"], "a");
    assert_eq!(
        ["routed", "accepted", "meeting", "sql", "opportunity", "won"]
            .map(|k| a[k].as_i64().unwrap()),
        [4, 3, 2, 1, 1, 1]
    );
    assert_eq!(a["pipeline_per_accepted"], 333.33); // 1000 / 3
    assert_eq!(b["lost"], 1);
    assert_eq!(b["pipeline_per_accepted"], 250.0); // 500 / 2
    assert_eq!(a["cost"], Value::Null, "no spend known yet");
    // Asked in USD: only b0's 200.
    let usd = get(&app, &format!("/v1/metrics/funnel?{PERIOD}&currency=USD")).await;
    assert_eq!(usd["currency"], "USD");
    assert_eq!(usd["total"]["pipeline_amount"], 200.0);
    assert_eq!(usd["groups"], json!([]));
}

#[tokio::test]
async fn cost_per_lead_is_the_months_spend_prorated_by_days() {
    let app = planted().await;
    let res = app
        .request(
            reqwest::Method::PUT,
            "/v1/campaigns/a",
            &app.admin,
            Some(
                &json!({"spend": [{"month": "2026-03", "amount": 3100, "currency": "EUR"},
                                   {"month": "2026-04", "amount": 999, "currency": "EUR"}]}),
            ),
        )
        .await;
    assert_eq!(res.status(), 200);
    let stored: Value = res.json().await.unwrap();
    assert_eq!(
        stored["spend"][0],
        json!({"month": "2026-03", "amount": 3100.0})
    );
    // 1–11 March: 10 of March's 31 days → 1000 EUR; a: 4 routed, 3 accepted, 1 SQL.
    let r = get(
        &app,
        &format!("/v1/metrics/funnel?{PERIOD}&group_by=campaign"),
    )
    .await;
    let a = &r["groups"][0];
    assert_eq!(
        a["cost"],
        json!({"spend": 1000.0, "currency": "EUR", "per_routed": 250.0,
               "per_accepted": 333.33, "per_sql": 1000.0})
    );
    assert_eq!(r["groups"][1]["cost"], Value::Null, "b has no spend");
    assert_eq!(r["total"]["cost"], Value::Null);
    // Filtered by the campaign, the total carries it.
    let f = get(&app, &format!("/v1/metrics/funnel?{PERIOD}&campaign=a")).await;
    assert_eq!(f["total"]["cost"]["per_accepted"], 333.33);
    let csv = app
        .client
        .get(app.url(&format!("/v1/metrics/funnel?{PERIOD}&campaign=a")))
        .bearer_auth(&app.admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let total: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let cell = |name: &str| total[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(cell("cost_per_accepted"), "333.33");
    assert_eq!(cell("cost_per_sql"), "1000");
    assert_eq!(cell("routed"), "4");
    let list = get(&app, "/v1/campaigns").await;
    assert_eq!(list["items"][0]["id"], "a");
}

#[tokio::test]
async fn bad_funnel_and_campaign_input_names_each_field_and_changes_nothing() {
    let app = spawn_app().await;
    let res = app
        .get(
            "/v1/metrics/funnel?currency=euro&group_by=colour&to=x",
            &app.admin,
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    let mut got = fields(&p);
    got.sort();
    assert_eq!(got, ["currency", "group_by", "to"]);
    let put = |body: Value| {
        let app = &app;
        async move {
            app.request(
                reqwest::Method::PUT,
                "/v1/campaigns/spring",
                &app.admin,
                Some(&body),
            )
            .await
        }
    };
    let p = problem(
        put(
            json!({"spend": [{"month": "2026-5", "amount": -1, "currency": "EUR"},
                             {"month": "2026-06", "amount": 1, "currency": "USD"}]}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields(&p),
        ["spend[0].month", "spend[0].amount", "spend[1].currency"]
    );
    let p = problem(put(json!({"spend": []})).await, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["spend"]);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .request(
            reqwest::Method::PUT,
            "/v1/campaigns/spring",
            &sdr,
            Some(&json!({"spend": [{"month": "2026-05", "amount": 1, "currency": "EUR"}]})),
        )
        .await;
    problem(res, 403, "forbidden").await;
    problem(
        app.get("/v1/campaigns/spring", &app.admin).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(app.count("campaigns").await, 0);
    assert_eq!(app.count("campaign_spend").await, 0);
}

/// Ingests `routed` leads of `campaign`, accepts `accepted` of them and marks `sql` of those
/// SQL.
async fn group(app: &TestApp, campaign: &str, routed_n: usize, accepted: usize, sql: usize) {
    let mut ids = Vec::new();
    for i in 0..routed_n {
        ids.push(routed(app, &format!("{campaign}-{i}"), campaign).await);
    }
    for (i, id) in ids.iter().enumerate() {
        if i < accepted {
            decide(app, id, "accept", json!({})).await;
        } else {
            decide(app, id, "reject", json!({"code": "no_budget"})).await;
        }
    }
    for id in ids.iter().take(sql) {
        outcome(app, id, "sql", 60, None).await;
    }
}

#[tokio::test]
async fn band_evidence_confirms_rubber_stamping_and_flags_rejected_good_leads() {
    let app = spawn_app().await;
    app.clock.set(t(T0) + Duration::hours(6));
    // hot: 10/10 accepted, 1 SQL (0.1); warm: 10/10, 9 SQL (0.9); cold: 10/20 accepted
    // (below range), 6 SQL (0.6); tiny: 2/2, 0 SQL (too few). Period: 6 + 9 + 1 = 16 SQL of
    // 32 accepted = 0.5.
    group(&app, "hot", 10, 10, 1).await;
    group(&app, "warm", 10, 10, 9).await;
    group(&app, "cold", 20, 10, 6).await;
    group(&app, "tiny", 2, 2, 0).await;
    let r = get(
        &app,
        &format!("/v1/metrics/acceptance?{PERIOD}&group_by=campaign"),
    )
    .await;
    let by_key = |k: &str| {
        r["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == k)
            .unwrap()
            .clone()
    };
    let hot = by_key("hot");
    assert_eq!(hot["band"], "rubber_stamping");
    assert_eq!(
        hot["band_evidence"],
        json!({"sql": 1, "accepted_to_sql_rate": 0.1, "period_accepted_to_sql_rate": 0.5,
               "finding": "rubber_stamping_confirmed"})
    );
    assert_eq!(
        by_key("warm")["band_evidence"]["finding"],
        "rubber_stamping_not_confirmed"
    );
    let cold = by_key("cold");
    assert_eq!(cold["band"], "below_range");
    assert_eq!(cold["band_evidence"]["finding"], "rejecting_good_leads");
    assert_eq!(cold["band_evidence"]["accepted_to_sql_rate"], 0.6);
    assert_eq!(
        by_key("tiny")["band_evidence"]["finding"],
        "insufficient_support"
    );
    let ungrouped = get(&app, &format!("/v1/metrics/acceptance?{PERIOD}")).await;
    assert!(ungrouped["groups"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn compacted_hours_give_the_same_funnel_and_an_outcome_stored_later_counts_at_once() {
    let app = planted().await;
    let paths = [
        format!("/v1/metrics/funnel?{PERIOD}&group_by=campaign"),
        format!("/v1/metrics/funnel?{PERIOD}&currency=USD"),
        format!("/v1/metrics/funnel?{PERIOD}&group_by=day"),
        format!("/v1/metrics/acceptance?{PERIOD}&group_by=campaign"),
    ];
    let mut raw = Vec::new();
    for p in &paths {
        raw.push(get(&app, p).await);
    }
    assert!(app.compact().await > 0, "nothing was compacted");
    // The routing hour is a block now, and no mark says it is dirty.
    let clean: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM cycle_blocks b WHERE b.hour = $1 \
         AND NOT EXISTS (SELECT 1 FROM cycle_hour_marks m WHERE m.hour = b.hour)",
    )
    .bind(t(T0))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(clean, 1);
    for (p, before) in paths.iter().zip(&raw) {
        assert_eq!(&get(&app, p).await, before, "{p}");
    }
    // a2 (accepted, no outcome yet) reaches SQL after its hour was compacted: counted at once.
    let a2: uuid::Uuid = sqlx::query_scalar("SELECT id FROM leads WHERE external_id = 'a2'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    outcome(&app, &a2.to_string(), "sql", 300, None).await;
    let r = get(&app, &paths[0]).await;
    assert_eq!(r["total"]["sql"], 3, "{}", r["total"]);
    assert_eq!(r["total"]["meeting"], 4);
}
