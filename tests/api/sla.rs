//! SLA deadlines, statuses, touches and the scanner, driven with the manual clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use salgate::{domain::Role, jobs::sla_scanner::SlaScanner};
use serde_json::{json, Value};

use crate::helpers::{drain_in_parallel, fields, lead, problem, spawn_app, TestApp};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn scanner(app: &TestApp) -> SlaScanner {
    SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()))
}

fn kinds(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .map(|h| h["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A demo_request (PT1H) routed at 2026-03-02T10:00Z to rep-1.
async fn routed_at_ten(app: &TestApp) -> (String, String) {
    app.clock.set(t("2026-03-02T10:00:00Z"));
    let l = app.ingest(&lead("c-1")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    (l["id"].as_str().unwrap().to_string(), sdr)
}

#[tokio::test]
async fn ingest_stores_the_cycle_deadlines_from_the_lead_types_policy() {
    let app = spawn_app().await;
    app.clock.set(t("2026-03-02T10:00:00Z"));
    let l = app.ingest(&lead("c-1")).await;
    assert_eq!(
        l["sla"],
        json!({"policy": "demo_request", "due_at": "2026-03-02T11:00:00Z", "at_risk_at": "2026-03-02T10:45:00Z",
               "breached_at": null, "status": "on_track",
               "first_touch": {"due_at": null, "touched_at": null, "breached_at": null}})
    );
    let mut other = lead("c-2");
    other["lead_type"] = json!("content_download");
    let l = app.ingest(&other).await;
    assert_eq!(l["sla"]["policy"], "default");
    assert_eq!(l["sla"]["due_at"], "2026-03-03T10:00:00Z");
}

#[tokio::test]
async fn the_scanner_flags_at_risk_then_breach_then_nothing_more() {
    let app = spawn_app().await;
    let (id, _) = routed_at_ten(&app).await;
    let scan = scanner(&app);
    app.clock.set(t("2026-03-02T10:44:59Z"));
    assert_eq!(
        scan.run_once().await.unwrap().counts.leads,
        0,
        "nothing is due yet"
    );
    app.clock.set(t("2026-03-02T10:46:00Z"));
    let c = scan.run_once().await.unwrap().counts;
    assert_eq!((c.at_risk, c.breached), (1, 0));
    assert_eq!(app.lead(&id).await["sla"]["status"], "at_risk");
    assert_eq!(
        scan.run_once().await.unwrap().counts.leads,
        0,
        "flagged once"
    );
    app.clock.set(t("2026-03-02T11:01:00Z"));
    let c = scan.run_once().await.unwrap().counts;
    assert_eq!((c.at_risk, c.breached), (0, 1));
    app.clock.set(t("2026-03-03T11:00:00Z"));
    assert_eq!(
        scan.run_once().await.unwrap().counts.leads,
        0,
        "a breached lead is never rescanned"
    );
    let l = app.lead(&id).await;
    assert_eq!(l["sla"]["status"], "breached");
    assert_eq!(l["sla"]["breached_at"], "2026-03-02T11:00:00Z");
    let h = app.history(&id).await;
    assert_eq!(kinds(&h), ["routed", "sla_at_risk", "sla_breached"]);
    assert_eq!(h[2]["actor"], "system");
    assert_eq!(
        h[2]["occurred_at"], "2026-03-02T11:00:00Z",
        "the breach happened at the due time"
    );
    assert_eq!(
        h[2]["recorded_at"], "2026-03-02T11:01:00Z",
        "and was seen at the scan"
    );
    assert_eq!(h[2]["rep"], "rep-1");
}

#[tokio::test]
async fn a_late_scan_flags_at_risk_and_breach_together_in_order() {
    let app = spawn_app().await;
    let (id, _) = routed_at_ten(&app).await;
    app.clock.set(t("2026-03-02T15:00:00Z"));
    let c = scanner(&app).run_once().await.unwrap().counts;
    assert_eq!((c.leads, c.at_risk, c.breached), (1, 1, 1));
    assert_eq!(
        kinds(&app.history(&id).await),
        ["routed", "sla_at_risk", "sla_breached"]
    );
}

#[tokio::test]
async fn a_lead_accepted_in_time_is_met_and_never_breached() {
    let app = spawn_app().await;
    let (id, sdr) = routed_at_ten(&app).await;
    app.clock.set(t("2026-03-02T10:30:00Z"));
    let res = app.decide(&id, "accept", &sdr, &json!({})).await;
    let l: Value = res.json().await.unwrap();
    assert_eq!(l["accepted_within_sla"], true);
    assert_eq!(l["sla"]["status"], "met");
    assert_eq!(l["sla"]["first_touch"]["due_at"], "2026-03-02T14:30:00Z");
    // Touch in time, then scan long after every deadline.
    app.clock.set(t("2026-03-02T11:30:00Z"));
    let res = app
        .post(
            &format!("/v1/leads/{id}/touches"),
            &sdr,
            &json!({"channel": "call"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.clock.set(t("2026-03-09T00:00:00Z"));
    assert_eq!(scanner(&app).run_once().await.unwrap().counts.leads, 0);
    let l = app.lead(&id).await;
    assert_eq!(l["sla"]["status"], "met");
    assert_eq!(
        l["sla"]["first_touch"]["touched_at"],
        "2026-03-02T11:30:00Z"
    );
    assert_eq!(
        kinds(&app.history(&id).await),
        ["routed", "accepted", "touched"]
    );
}

#[tokio::test]
async fn a_lead_decided_after_its_due_time_is_missed() {
    let app = spawn_app().await;
    let (id, sdr) = routed_at_ten(&app).await;
    app.clock.set(t("2026-03-02T12:00:00Z"));
    scanner(&app).run_once().await.unwrap();
    let l: Value = app
        .decide(&id, "accept", &sdr, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["accepted_within_sla"], false);
    assert_eq!(l["sla"]["status"], "missed");
    let (id2, _) = {
        app.clock.set(t("2026-03-02T10:00:00Z"));
        let l = app.ingest(&lead("c-2")).await;
        (l["id"].as_str().unwrap().to_string(), ())
    };
    app.clock.set(t("2026-03-02T11:00:01Z"));
    let l: Value = app
        .decide(&id2, "reject", &sdr, &json!({"code": "duplicate"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        l["sla"]["status"], "missed",
        "decided one second late, even before a scan"
    );
}

#[tokio::test]
async fn first_touch_is_breached_once_when_nobody_touches_an_accepted_lead() {
    let app = spawn_app().await;
    let (id, sdr) = routed_at_ten(&app).await;
    app.clock.set(t("2026-03-02T10:10:00Z"));
    assert_eq!(
        app.decide(&id, "accept", &sdr, &json!({})).await.status(),
        200
    );
    let scan = scanner(&app);
    app.clock.set(t("2026-03-02T14:09:00Z"));
    assert_eq!(scan.run_once().await.unwrap().counts.leads, 0);
    app.clock.set(t("2026-03-02T14:11:00Z"));
    let c = scan.run_once().await.unwrap().counts;
    assert_eq!((c.first_touch_breached, c.breached), (1, 0));
    assert_eq!(scan.run_once().await.unwrap().counts.leads, 0);
    let l = app.lead(&id).await;
    assert_eq!(
        l["sla"]["first_touch"]["breached_at"],
        "2026-03-02T14:10:00Z"
    );
    assert_eq!(
        kinds(&app.history(&id).await),
        ["routed", "accepted", "first_touch_breached"]
    );
}

#[tokio::test]
async fn touches_are_validated_and_only_logged_on_open_or_accepted_leads() {
    let app = spawn_app().await;
    let (id, sdr) = routed_at_ten(&app).await;
    let path = format!("/v1/leads/{id}/touches");
    let p = problem(
        app.post(&path, &sdr, &json!({"at": "soon"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["channel", "at"]);
    let p = problem(
        app.post(
            &path,
            &sdr,
            &json!({"channel": "call", "at": "2026-03-01T00:00:00Z"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["at"], "before the cycle was routed");
    let other = app.key(Role::Sdr, Some("rep-2")).await;
    problem(
        app.post(&path, &other, &json!({"channel": "call"})).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.decide(&id, "reject", &sdr, &json!({"code": "duplicate"}))
            .await
            .status(),
        200
    );
    problem(
        app.post(&path, &sdr, &json!({"channel": "call"})).await,
        409,
        "lead_closed",
    )
    .await;
    assert_eq!(kinds(&app.history(&id).await), ["routed", "rejected"]);
}

#[tokio::test]
async fn a_policy_calendar_counts_only_working_hours() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let windows: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"}))
        .collect();
    let res = app
        .request(reqwest::Method::PUT, "/v1/calendars/berlin", &revops,
            Some(&json!({"name": "Berlin office", "time_zone": "Europe/Berlin", "windows": windows, "holidays": ["2026-03-09"]})))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .request(reqwest::Method::PUT, "/v1/sla-policies/demo_request", &revops,
            Some(&json!({"accept_within": "PT1H", "first_touch_within": "PT4H", "calendar": "berlin"})))
        .await;
    assert_eq!(res.status(), 200);
    let policy: Value = res.json().await.unwrap();
    assert_eq!(
        (policy["calendar"].as_str(), policy["on_breach"].as_str()),
        (Some("berlin"), Some("notify"))
    );
    // Friday 2026-03-06 16:30 Berlin (15:30Z): 30 min on Friday, Monday is a holiday, so the
    // remaining 30 min run Tuesday 09:00–09:30 Berlin (08:30Z).
    app.clock.set(t("2026-03-06T15:30:00Z"));
    let l = app.ingest(&lead("c-1")).await;
    assert_eq!(l["sla"]["due_at"], "2026-03-10T08:30:00Z");
    assert_eq!(l["sla"]["at_risk_at"], "2026-03-10T08:15:00Z");
}

#[tokio::test]
async fn bad_policies_and_calendars_are_422_naming_fields_and_sdrs_cannot_write() {
    let app = spawn_app().await;
    let res = app
        .request(reqwest::Method::PUT, "/v1/sla-policies/demo_request", &app.admin,
            Some(&json!({"accept_within": "an hour", "first_touch_within": "PT4H", "calendar": "nowhere"})))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["accept_within"]);
    let res = app
        .request(reqwest::Method::PUT, "/v1/sla-policies/demo_request", &app.admin,
            Some(&json!({"accept_within": "PT1H", "first_touch_within": "PT4H", "calendar": "nowhere"})))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["calendar"]);
    let res = app
        .request(reqwest::Method::PUT, "/v1/calendars/x", &app.admin,
            Some(&json!({"time_zone": "Europe/Berlin", "windows": [{"weekday": "mon", "start": "09:00", "end": "12:00"}, {"weekday": "mon", "start": "11:00", "end": "13:00"}]})))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("overlap"),
        "{p}"
    );
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .request(
            reqwest::Method::PUT,
            "/v1/sla-policies/x",
            &sdr,
            Some(&json!({"accept_within": "PT1H", "first_touch_within": "PT1H"})),
        )
        .await;
    problem(res, 403, "forbidden").await;
    let list: Value = app
        .get("/v1/sla-policies", &sdr)
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lead_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "contact_request",
            "default",
            "demo_request",
            "pricing_request"
        ]
    );
    let one: Value = app
        .get("/v1/sla-policies/default", &sdr)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            one["accept_within"].as_str(),
            one["first_touch_within"].as_str()
        ),
        (Some("PT24H"), Some("PT4H"))
    );
}

#[tokio::test]
async fn return_to_queue_unassigns_a_breached_lead_once() {
    let app = spawn_app().await;
    let res = app
        .request(reqwest::Method::PUT, "/v1/sla-policies/demo_request", &app.admin,
            Some(&json!({"accept_within": "PT1H", "first_touch_within": "PT4H", "on_breach": "return_to_queue"})))
        .await;
    assert_eq!(res.status(), 200);
    let (id, _) = routed_at_ten(&app).await;
    app.clock.set(t("2026-03-02T11:05:00Z"));
    let c = scanner(&app).run_once().await.unwrap().counts;
    assert_eq!((c.breached, c.returned_to_queue), (1, 1));
    let l = app.lead(&id).await;
    assert!(l["owner"].is_null());
    assert_eq!(l["queue"], "emea");
    assert_eq!(
        kinds(&app.history(&id).await),
        ["routed", "sla_at_risk", "sla_breached", "returned_to_queue"]
    );
}

#[tokio::test]
async fn each_cycle_is_flagged_once_and_gets_fresh_deadlines() {
    let app = spawn_app().await;
    let (id, sdr) = routed_at_ten(&app).await;
    let scan = scanner(&app);
    app.clock.set(t("2026-03-02T12:00:00Z"));
    scan.run_once().await.unwrap();
    assert_eq!(
        app.decide(&id, "recycle", &sdr, &json!({"reason": "not_ready"}))
            .await
            .status(),
        200
    );
    app.clock.set(t("2026-03-05T09:00:00Z"));
    let l = app.ingest(&lead("c-1")).await;
    assert_eq!(l["cycle"], 2);
    assert_eq!(l["sla"]["due_at"], "2026-03-05T10:00:00Z");
    assert_eq!(l["sla"]["status"], "on_track");
    assert!(l["sla"]["breached_at"].is_null());
    app.clock.set(t("2026-03-05T11:00:00Z"));
    assert_eq!(scan.run_once().await.unwrap().counts.breached, 1);
    let breaches: Vec<i64> = app
        .history(&id)
        .await
        .iter()
        .filter(|h| h["kind"] == "sla_breached")
        .map(|h| h["cycle"].as_i64().unwrap())
        .collect();
    assert_eq!(breaches, [1, 2]);
}

#[tokio::test]
async fn leads_can_be_listed_by_sla_status() {
    let app = spawn_app().await;
    let (_, sdr) = routed_at_ten(&app).await;
    let l2 = app.ingest(&lead("c-2")).await;
    app.clock.set(t("2026-03-02T10:50:00Z"));
    let res = app
        .decide(l2["id"].as_str().unwrap(), "accept", &sdr, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    app.ingest(&lead("c-3")).await;
    for (status, expected) in [
        ("at_risk", vec!["c-1"]),
        ("on_track", vec!["c-3"]),
        ("met", vec!["c-2"]),
        ("breached", vec![]),
        ("missed", vec![]),
    ] {
        let page: Value = app
            .get(&format!("/v1/leads?sla_status={status}"), &app.admin)
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
        assert_eq!(ids, expected, "{status}");
    }
    problem(
        app.get("/v1/leads?sla_status=late", &app.admin).await,
        422,
        "validation_failed",
    )
    .await;
}

/// Inserts `n` routed leads whose deadlines (at risk and due) both passed at `due`.
async fn insert_due_leads(app: &TestApp, n: i64, due: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO leads (id, source, external_id, lead_type, owner, state, cycle, routed_at, \
           created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at) \
         SELECT gen_random_uuid(), 'bulk', 'b-' || i, 'demo_request', 'rep-1', 'routed', 1, \
           $1 - interval '1 hour', $1, $1, 'demo_request', $1, $1 - interval '15 minutes' \
         FROM generate_series(1, $2) AS i",
    )
    .bind(due)
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_concurrent_scanners_breach_each_of_ten_thousand_leads_exactly_once() {
    let app = spawn_app().await;
    insert_due_leads(&app, 10_000, t("2026-03-02T11:00:00Z")).await;
    app.clock.set(t("2026-03-02T11:00:01Z"));
    let mut scanners: Vec<SlaScanner> = (0..3).map(|_| scanner(&app)).collect();
    for s in &mut scanners {
        s.batch = 500; // several batches each, so they really interleave
    }
    let counts = drain_in_parallel(scanners).await;
    let (a, b, c) = (&counts[0], &counts[1], &counts[2]);
    assert_eq!(
        a.breached + b.breached + c.breached,
        10_000,
        "{a:?} {b:?} {c:?}"
    );
    assert!(
        [a.leads, b.leads, c.leads]
            .iter()
            .filter(|n| **n > 0)
            .count()
            >= 2,
        "the work was shared: {a:?} {b:?} {c:?}"
    );
    let per_lead: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE kind = 'sla_breached'), count(*) FILTER (WHERE kind = 'sla_at_risk') \
         FROM leads l LEFT JOIN lead_history h ON h.lead_id = l.id GROUP BY l.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(per_lead.len(), 10_000);
    assert!(
        per_lead.iter().all(|c| *c == (1, 1)),
        "every lead flagged exactly once"
    );
    assert_eq!(scanner(&app).run_once().await.unwrap().counts.leads, 0);
}

#[tokio::test]
async fn the_scan_reads_the_coming_due_index_not_the_open_leads() {
    let app = spawn_app().await;
    // Many open leads due far in the future, a handful due now.
    insert_due_leads(&app, 20_000, t("2027-01-01T00:00:00Z")).await;
    sqlx::query("UPDATE leads SET sla_due_at = '2026-03-02T11:00:00Z', sla_at_risk_at = '2026-03-02T10:45:00Z' WHERE external_id IN ('b-1', 'b-2', 'b-3')")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("ANALYZE leads")
        .execute(&app.pool)
        .await
        .unwrap();
    // The scanner's own statement, with its join and state condition (EXPLAIN runs nothing).
    let now = t("2026-03-02T12:00:00Z");
    let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {}", salgate::db::sla::SCAN_SQL))
        .bind(now)
        .bind(salgate::jobs::sla_scanner::BATCH)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let plan = plan.join("\n");
    // The index bounds the claim (a condition, not a filter over every open lead), and no
    // step of the statement reads the whole table.
    assert!(
        plan.contains("using leads_sla_next_check_idx on leads"),
        "{plan}"
    );
    assert!(
        plan.contains("Index Cond: (sla_next_check_at <= "),
        "{plan}"
    );
    assert!(!plan.contains("Seq Scan on leads"), "{plan}");
    app.clock.set(now);
    assert_eq!(scanner(&app).run_once().await.unwrap().counts.breached, 3);
}

#[tokio::test]
async fn a_scan_that_dies_before_commit_loses_and_duplicates_nothing() {
    let app = spawn_app().await;
    insert_due_leads(&app, 50, t("2026-03-02T11:00:00Z")).await;
    let now = t("2026-03-02T11:00:01Z");
    app.clock.set(now);
    // A scan that flags everything but never commits (the process died mid-statement).
    let mut tx = app.pool.begin().await.unwrap();
    let c = salgate::db::sla::scan_due(&mut *tx, now, 1000)
        .await
        .unwrap();
    assert_eq!(c.breached, 50);
    drop(tx);
    assert_eq!(
        app.count("lead_history").await,
        0,
        "nothing of the dead scan survives"
    );
    // Meanwhile a request holds five leads: the next scan skips them instead of waiting.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query(
        "SELECT id FROM leads WHERE external_id IN ('b-1','b-2','b-3','b-4','b-5') FOR UPDATE",
    )
    .execute(&mut *holder)
    .await
    .unwrap();
    let c = scanner(&app).run_once().await.unwrap().counts;
    assert_eq!(c.breached, 45);
    holder.commit().await.unwrap();
    let c = scanner(&app).run_once().await.unwrap().counts;
    assert_eq!(c.breached, 5);
    let breaches: i64 =
        sqlx::query_scalar("SELECT count(*) FROM lead_history WHERE kind = 'sla_breached'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(breaches, 50);
}

#[tokio::test]
async fn a_cancelled_scanner_stops_between_batches() {
    let app = spawn_app().await;
    insert_due_leads(&app, 100, t("2026-03-02T11:00:00Z")).await;
    app.clock.set(t("2026-03-02T11:00:01Z"));
    let mut s = scanner(&app);
    s.batch = 10;
    let cancel = tokio_util::sync::CancellationToken::new();
    cancel.cancel();
    let done = s.drain(&cancel).await.unwrap();
    assert_eq!(done.leads, 10, "one whole batch, then it stops");
    let rest = s
        .drain(&tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(rest.leads, 90);
}

#[tokio::test]
async fn a_policy_calendar_takes_precedence_over_its_queues() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let put = |path: String, body: Value| {
        let (app, revops) = (&app, &revops);
        async move {
            let res = app
                .request(reqwest::Method::PUT, &path, revops, Some(&body))
                .await;
            assert_eq!(res.status(), 200, "{path}");
        }
    };
    let windows: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"}))
        .collect();
    for (id, zone) in [("berlin", "Europe/Berlin"), ("ny", "America/New_York")] {
        let body = json!({"time_zone": zone, "windows": windows});
        put(format!("/v1/calendars/{id}"), body).await;
    }
    put(
        "/v1/queues/emea".into(),
        json!({"strategy": "round_robin", "calendar": "ny"}),
    )
    .await;
    put(
        "/v1/sla-policies/demo_request".into(),
        json!({"accept_within": "PT1H", "first_touch_within": "PT4H", "calendar": "berlin"}),
    )
    .await;
    // Tuesday 2026-03-03 12:00Z: 13:00 in Berlin (open), 07:00 in New York (opens 14:00Z).
    app.clock.set(t("2026-03-03T12:00:00Z"));
    let l = app.ingest(&lead("c-1")).await; // demo_request in queue emea
    assert_eq!(l["sla"]["due_at"], "2026-03-03T13:00:00Z", "Berlin's hours");
    let mut pricing = lead("c-2");
    pricing["lead_type"] = json!("pricing_request"); // PT1H, no calendar of its own
    let l = app.ingest(&pricing).await;
    assert_eq!(
        l["sla"]["due_at"], "2026-03-03T15:00:00Z",
        "the queue's hours"
    );
}
