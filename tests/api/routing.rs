//! Queues and reps (the data routing works on).

use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{drain_in_parallel, fields, lead, problem, spawn_app, spawn_replica, TestApp};

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path, &app.admin, Some(&body))
        .await
}

#[tokio::test]
async fn queues_and_reps_are_created_read_and_replaced() {
    let app = spawn_app().await;
    let res = put(
        &app,
        "/v1/queues/emea",
        json!({"name": "EMEA inbound", "strategy": "round_robin"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        put(&app, "/v1/queues/pool", json!({"strategy": "claim"}))
            .await
            .status(),
        200
    );
    let res = put(&app, "/v1/reps/rep-1", json!({"name": "Sam", "email": "sam@example.com", "queues": ["emea", "pool", "emea"], "capacity": 5})).await;
    assert_eq!(res.status(), 200);
    let rep: Value = res.json().await.unwrap();
    assert_eq!(rep["queues"], json!(["emea", "pool"]));
    assert_eq!(
        (rep["active"].as_bool(), rep["capacity"].as_i64()),
        (Some(true), Some(5))
    );
    app.ingest(&lead("c-1")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let rep: Value = app.get("/v1/reps/rep-1", &sdr).await.json().await.unwrap();
    assert_eq!(rep["open_leads"], 1);
    let queue: Value = app.get("/v1/queues/emea", &sdr).await.json().await.unwrap();
    assert_eq!(
        (queue["name"].as_str(), queue["members"].clone()),
        (Some("EMEA inbound"), json!(["rep-1"]))
    );
    // Replacing the rep replaces its memberships.
    let rep: Value = put(&app, "/v1/reps/rep-1", json!({"name": "Sam", "queues": ["pool"], "active": false, "away_until": "2026-12-01T00:00:00Z"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rep["queues"], json!(["pool"]));
    assert_eq!(rep["away_until"], "2026-12-01T00:00:00Z");
    let list: Value = app.get("/v1/queues", &sdr).await.json().await.unwrap();
    assert_eq!(list["items"][0]["members"], json!([]));
    let reps: Value = app.get("/v1/reps", &sdr).await.json().await.unwrap();
    assert_eq!(reps["items"].as_array().unwrap().len(), 1);
    problem(app.get("/v1/reps/nobody", &sdr).await, 404, "not_found").await;
    problem(app.get("/v1/queues/none", &sdr).await, 404, "not_found").await;
}

#[tokio::test]
async fn bad_queues_and_reps_are_422_naming_fields_and_only_revops_writes() {
    let app = spawn_app().await;
    let p = problem(
        put(
            &app,
            "/v1/queues/q",
            json!({"strategy": "fifo", "calendar": "none"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["strategy", "calendar"]);
    let p = problem(
        put(
            &app,
            "/v1/reps/r",
            json!({"queues": ["missing"], "capacity": -1, "away_until": "soon", "active": "yes"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["active", "capacity", "away_until", "queues"]);
    let sdr = app.key(Role::Sdr, Some("r")).await;
    let res = app
        .request(
            Method::PUT,
            "/v1/queues/q",
            &sdr,
            Some(&json!({"strategy": "claim"})),
        )
        .await;
    problem(res, 403, "forbidden").await;
    assert_eq!(app.count("reps").await, 0);
    assert_eq!(app.count("queues").await, 0);
}

#[tokio::test]
async fn a_queue_calendar_applies_when_the_policy_has_none() {
    let app = spawn_app().await;
    let windows: Vec<Value> = ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|d| json!({"weekday": d, "start": "09:00", "end": "17:00"}))
        .collect();
    let res = put(
        &app,
        "/v1/calendars/ny",
        json!({"time_zone": "America/New_York", "windows": windows}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        put(
            &app,
            "/v1/queues/emea",
            json!({"strategy": "round_robin", "calendar": "ny"})
        )
        .await
        .status(),
        200
    );
    // Saturday 2026-03-07 12:00Z: counting starts Monday 09:00 New York (13:00Z, EST).
    app.clock.set("2026-03-07T12:00:00Z".parse().unwrap());
    let l = app.ingest(&lead("c-1")).await;
    assert_eq!(l["sla"]["due_at"], "2026-03-09T14:00:00Z");
    let mut other = lead("c-2");
    other["queue"] = json!("na");
    let l = app.ingest(&other).await;
    assert_eq!(
        l["sla"]["due_at"], "2026-03-07T13:00:00Z",
        "no queue calendar: 24x7"
    );
}

/// A queue with members `reps` (each created with `extra` fields).
async fn queue_with(app: &TestApp, queue: &str, strategy: &str, reps: &[(&str, Value)]) {
    assert_eq!(
        put(
            app,
            &format!("/v1/queues/{queue}"),
            json!({"strategy": strategy})
        )
        .await
        .status(),
        200
    );
    for (id, extra) in reps {
        let mut body = json!({"queues": [queue]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = put(app, &format!("/v1/reps/{id}"), body).await;
        assert_eq!(res.status(), 200, "{id}");
    }
}

fn queued(ext: &str, queue: &str) -> Value {
    let mut l = lead(ext);
    l["owner"] = Value::Null;
    l["queue"] = json!(queue);
    l
}

async fn ingest_concurrently(app: &TestApp, queue: &str, n: usize) {
    let token = app.key(Role::Ingest, None).await;
    let requests = (0..n).map(|i| {
        let req = app
            .client
            .post(app.url("/v1/leads"))
            .bearer_auth(&token)
            .json(&queued(&format!("{queue}-{i}"), queue));
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
}

async fn open_per_owner(app: &TestApp) -> Vec<(Option<String>, i64)> {
    sqlx::query_as("SELECT owner, count(*) FROM leads WHERE state = 'routed' GROUP BY owner ORDER BY owner NULLS LAST")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn o(s: &str, n: i64) -> (Option<String>, i64) {
    (Some(s.into()), n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_robin_is_exactly_fair_under_100_concurrent_ingests() {
    let app = spawn_app().await;
    queue_with(
        &app,
        "emea",
        "round_robin",
        &[
            ("a", json!({})),
            ("b", json!({})),
            ("c", json!({})),
            ("d", json!({})),
        ],
    )
    .await;
    ingest_concurrently(&app, "emea", 100).await;
    assert_eq!(
        open_per_owner(&app).await,
        [o("a", 25), o("b", 25), o("c", 25), o("d", 25)]
    );
    let notes: Vec<Value> =
        sqlx::query_scalar("SELECT data FROM lead_history WHERE kind = 'routed'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert!(notes.iter().all(|d| d["assigned_by"] == "round_robin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn least_loaded_never_lets_a_rep_get_two_ahead_under_concurrency() {
    let app = spawn_app().await;
    queue_with(
        &app,
        "na",
        "least_loaded",
        &[("a", json!({})), ("b", json!({})), ("c", json!({}))],
    )
    .await;
    // b already carries two leads from elsewhere.
    for i in 0..2 {
        let mut l = lead(&format!("x-{i}"));
        l["owner"] = json!("b");
        app.ingest(&l).await;
    }
    ingest_concurrently(&app, "na", 61).await;
    assert_eq!(
        open_per_owner(&app).await,
        [o("a", 21), o("b", 21), o("c", 21)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn capacity_and_away_are_respected_under_concurrency() {
    let app = spawn_app().await;
    queue_with(
        &app,
        "emea",
        "round_robin",
        &[
            ("a", json!({"capacity": 5})),
            ("b", json!({"away_until": "2099-01-01T00:00:00Z"})),
            ("c", json!({"capacity": 10})),
            ("d", json!({"active": false})),
        ],
    )
    .await;
    ingest_concurrently(&app, "emea", 30).await;
    assert_eq!(
        open_per_owner(&app).await,
        [o("a", 5), o("c", 10), (None, 15)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_sdrs_claiming_at_once_never_get_the_same_lead() {
    let app = spawn_app().await;
    let reps: Vec<(String, Value)> = (0..10).map(|i| (format!("r{i}"), json!({}))).collect();
    let refs: Vec<(&str, Value)> = reps.iter().map(|(r, v)| (r.as_str(), v.clone())).collect();
    queue_with(&app, "pool", "claim", &refs).await;
    ingest_concurrently(&app, "pool", 200).await;
    assert_eq!(
        open_per_owner(&app).await,
        [(None, 200)],
        "a claim queue assigns nobody"
    );
    let mut tokens = Vec::new();
    for (r, _) in &reps {
        tokens.push(app.key(Role::Sdr, Some(r)).await);
    }
    let app = &app;
    let claimers = tokens.iter().map(|token| async move {
        let mut got = Vec::new();
        loop {
            let res = app
                .client
                .post(app.url("/v1/queues/pool/claim"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            if res.status() == 204 {
                return got;
            }
            assert_eq!(res.status(), 200);
            let l: Value = res.json().await.unwrap();
            got.push(l["id"].as_str().unwrap().to_string());
        }
    });
    let per_claimer = futures::future::join_all(claimers).await;
    let mut all: Vec<String> = per_claimer.iter().flatten().cloned().collect();
    assert_eq!(all.len(), 200);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 200, "no lead was claimed twice");
    assert!(
        per_claimer.iter().filter(|c| !c.is_empty()).count() > 1,
        "claims were spread"
    );
    let res = app
        .client
        .post(app.url("/v1/queues/pool/claim"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let assigned: i64 =
        sqlx::query_scalar("SELECT count(*) FROM lead_history WHERE kind = 'assigned'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(assigned, 200);
    let outsider = app.key(Role::Sdr, Some("stranger")).await;
    let res = app
        .client
        .post(app.url("/v1/queues/pool/claim"))
        .bearer_auth(&outsider)
        .send()
        .await
        .unwrap();
    problem(res, 403, "forbidden").await;
}

#[tokio::test]
async fn claim_gives_the_most_urgent_lead_first() {
    let app = spawn_app().await;
    queue_with(&app, "pool", "claim", &[("r1", json!({}))]).await;
    let mut late = queued("late", "pool");
    late["lead_type"] = json!("content_download"); // PT24H
    app.ingest(&late).await;
    app.ingest(&queued("urgent", "pool")).await; // demo_request: PT1H
    let sdr = app.key(Role::Sdr, Some("r1")).await;
    let l: Value = app
        .client
        .post(app.url("/v1/queues/pool/claim"))
        .bearer_auth(&sdr)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(l["external_id"], "urgent");
    assert_eq!(l["owner"], "r1");
}

#[tokio::test]
async fn unknown_owners_are_registered_and_unavailable_ones_defer_to_the_queue() {
    let app = spawn_app().await;
    let l = app.ingest(&lead("c-1")).await; // owner rep-1, never seen
    assert_eq!(l["owner"], "rep-1");
    let rep: Value = app
        .get("/v1/reps/rep-1", &app.admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (rep["auto_registered"].as_bool(), rep["active"].as_bool()),
        (Some(true), Some(true))
    );
    let h = app.history(l["id"].as_str().unwrap()).await;
    assert_eq!(h[0]["data"]["owner_registered"], true);
    queue_with(&app, "emea", "round_robin", &[("a", json!({}))]).await;
    assert_eq!(
        put(&app, "/v1/reps/rep-1", json!({"active": false}))
            .await
            .status(),
        200
    );
    let l = app.ingest(&lead("c-2")).await; // owner rep-1 (inactive), queue emea
    assert_eq!(l["owner"], "a");
    let h = app.history(l["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            h[0]["data"]["owner_unavailable"].as_str(),
            h[0]["data"]["assigned_by"].as_str()
        ),
        (Some("rep-1"), Some("round_robin"))
    );
    let mut no_queue = lead("c-3");
    no_queue["queue"] = Value::Null;
    let l = app.ingest(&no_queue).await;
    assert_eq!(
        l["owner"], "rep-1",
        "without a queue the lead stays with its owner"
    );
}

#[tokio::test]
async fn an_sdr_of_the_queue_sees_and_takes_an_unassigned_lead() {
    let app = spawn_app().await;
    queue_with(&app, "pool", "claim", &[("r1", json!({}))]).await;
    let l = app.ingest(&queued("c-1", "pool")).await;
    let id = l["id"].as_str().unwrap();
    assert!(l["owner"].is_null());
    let member = app.key(Role::Sdr, Some("r1")).await;
    let outsider = app.key(Role::Sdr, Some("r2")).await;
    let page: Value = app.get("/v1/leads", &member).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let page: Value = app.get("/v1/leads", &outsider).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    problem(
        app.decide(id, "accept", &outsider, &json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let res = app.decide(id, "accept", &member, &json!({})).await;
    assert_eq!(res.status(), 200);
    let l: Value = res.json().await.unwrap();
    assert_eq!(
        (l["owner"].as_str(), l["accepted_by"].as_str()),
        (Some("r1"), Some("r1"))
    );
}

#[tokio::test]
async fn revops_reassigns_a_routed_lead_to_a_rep_or_a_queue() {
    let app = spawn_app().await;
    queue_with(
        &app,
        "na",
        "round_robin",
        &[("a", json!({})), ("b", json!({}))],
    )
    .await;
    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let path = format!("/v1/leads/{id}/assign");
    let p = problem(
        app.post(&path, &app.admin, &json!({"owner": "x", "queue": "na"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["owner"]);
    let p = problem(
        app.post(&path, &app.admin, &json!({"queue": "nowhere"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["queue"]);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    problem(
        app.post(&path, &sdr, &json!({"owner": "rep-2"})).await,
        403,
        "forbidden",
    )
    .await;
    let l: Value = app
        .post(&path, &app.admin, &json!({"owner": "rep-2"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["owner"], "rep-2");
    let l: Value = app
        .post(&path, &app.admin, &json!({"queue": "na"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (l["owner"].as_str(), l["queue"].as_str()),
        (Some("a"), Some("na"))
    );
    let h = app.history(id).await;
    let assigned: Vec<&Value> = h.iter().filter(|e| e["kind"] == "assigned").collect();
    assert_eq!(assigned.len(), 2);
    assert_eq!(
        (
            assigned[0]["data"]["from"].as_str(),
            assigned[0]["rep"].as_str()
        ),
        (Some("rep-1"), Some("rep-2"))
    );
    assert_eq!(assigned[1]["data"]["assigned_by"], "round_robin");
    let sdr_a = app.key(Role::Sdr, Some("a")).await;
    assert_eq!(
        app.decide(id, "reject", &sdr_a, &json!({"code": "duplicate"}))
            .await
            .status(),
        200
    );
    problem(
        app.post(&path, &app.admin, &json!({"owner": "b"})).await,
        409,
        "lead_not_routed",
    )
    .await;
}

async fn reassign_policy(app: &TestApp) {
    let res = put(
        app,
        "/v1/sla-policies/demo_request",
        json!({"accept_within": "PT1H", "first_touch_within": "PT4H", "on_breach": "reassign"}),
    )
    .await;
    assert_eq!(res.status(), 200);
}

fn scanner(app: &TestApp) -> salgate::jobs::sla_scanner::SlaScanner {
    salgate::jobs::sla_scanner::SlaScanner::new(
        app.pool.clone(),
        std::sync::Arc::new(app.clock.clone()),
    )
}

fn kinds(h: &[Value]) -> Vec<&str> {
    h.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_breached_lead_climbs_the_ladder_once_per_rung_then_returns_to_its_queue() {
    let app = spawn_app().await;
    reassign_policy(&app).await;
    queue_with(
        &app,
        "emea",
        "round_robin",
        &[("a", json!({})), ("b", json!({}))],
    )
    .await;
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    let l = app.ingest(&queued("c-1", "emea")).await;
    let id = l["id"].as_str().unwrap();
    assert_eq!(l["owner"], "a");
    let scan = scanner(&app);
    app.clock.set("2026-03-02T11:00:30Z".parse().unwrap());
    let o = scan.run_once().await.unwrap();
    assert_eq!((o.counts.breached, o.reassigned), (1, 1));
    let l = app.lead(id).await;
    assert_eq!(l["owner"], "b", "the next eligible rep not yet tried");
    assert_eq!(
        l["sla"]["due_at"], "2026-03-02T11:00:00Z",
        "the cycle's due time never moves"
    );
    // b's own deadline is an hour after the reassignment; nothing happens before it.
    app.clock.set("2026-03-02T12:00:00Z".parse().unwrap());
    let o = scan.run_once().await.unwrap();
    assert_eq!(
        (o.counts.leads, o.reassigned, o.counts.returned_to_queue),
        (0, 0, 0)
    );
    app.clock.set("2026-03-02T12:01:00Z".parse().unwrap());
    let o = scan.run_once().await.unwrap();
    assert_eq!(
        (o.reassigned, o.counts.returned_to_queue),
        (0, 1),
        "a and b were both tried"
    );
    app.clock.set("2026-03-05T00:00:00Z".parse().unwrap());
    let o = scan.run_once().await.unwrap();
    assert_eq!(
        (o.counts.leads, o.reassigned, o.counts.returned_to_queue),
        (0, 0, 0)
    );
    let l = app.lead(id).await;
    assert!(l["owner"].is_null());
    assert_eq!(l["queue"], "emea");
    let h = app.history(id).await;
    assert_eq!(
        kinds(&h),
        [
            "routed",
            "sla_at_risk",
            "sla_breached",
            "reassigned",
            "returned_to_queue"
        ]
    );
    assert_eq!(
        (h[3]["data"]["from"].as_str(), h[3]["rep"].as_str()),
        (Some("a"), Some("b"))
    );
    assert_eq!(h[4]["data"]["from"], "b");
}

#[tokio::test]
async fn with_no_other_eligible_rep_a_breached_lead_returns_to_its_queue_at_once() {
    let app = spawn_app().await;
    reassign_policy(&app).await;
    queue_with(
        &app,
        "emea",
        "round_robin",
        &[("a", json!({})), ("b", json!({"active": false}))],
    )
    .await;
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    let l = app.ingest(&queued("c-1", "emea")).await;
    let id = l["id"].as_str().unwrap();
    app.clock.set("2026-03-02T11:00:30Z".parse().unwrap());
    let o = scanner(&app).run_once().await.unwrap();
    assert_eq!(
        (o.counts.breached, o.reassigned, o.counts.returned_to_queue),
        (1, 0, 1)
    );
    assert!(app.lead(id).await["owner"].is_null());
    // It is claimable now by a member of the queue.
    let sdr = app.key(Role::Sdr, Some("a")).await;
    let res = app
        .client
        .post(app.url("/v1/queues/emea/claim"))
        .bearer_auth(&sdr)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scanners_apply_each_escalation_step_once() {
    let app = spawn_app().await;
    reassign_policy(&app).await;
    let reps: Vec<(String, Value)> = (0..4).map(|i| (format!("r{i}"), json!({}))).collect();
    let refs: Vec<(&str, Value)> = reps.iter().map(|(r, v)| (r.as_str(), v.clone())).collect();
    queue_with(&app, "emea", "least_loaded", &refs).await;
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    ingest_concurrently(&app, "emea", 40).await;
    app.clock.set("2026-03-02T11:00:30Z".parse().unwrap());
    let counts = drain_in_parallel((0..3).map(|_| scanner(&app)).collect()).await;
    let total: i64 = counts.iter().map(|c| c.reassigned).sum();
    assert_eq!(total, 40);
    let per_lead: Vec<i64> = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE h.kind = 'reassigned') FROM leads l JOIN lead_history h ON h.lead_id = l.id GROUP BY l.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(per_lead.iter().all(|n| *n == 1), "{per_lead:?}");
}

#[tokio::test]
async fn a_recycled_lead_re_ingested_into_a_round_robin_queue_gets_the_next_rep() {
    let app = spawn_app().await;
    queue_with(
        &app,
        "emea",
        "round_robin",
        &[("a", json!({})), ("b", json!({}))],
    )
    .await;
    let l = app.ingest(&queued("c-1", "emea")).await;
    assert_eq!(l["owner"], "a");
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("a")).await;
    assert_eq!(
        app.decide(id, "recycle", &sdr, &json!({"reason": "not_ready"}))
            .await
            .status(),
        200
    );
    // A re-send of an open lead costs nobody a turn; the re-route of the recycled one takes b's.
    let l = app.ingest(&queued("c-1", "emea")).await;
    assert_eq!(
        (l["cycle"].as_i64(), l["owner"].as_str()),
        (Some(2), Some("b"))
    );
    let res = app
        .post("/v1/leads", &app.admin, &queued("c-1", "emea"))
        .await;
    assert_eq!(res.status(), 200);
    let l = app.ingest(&queued("c-2", "emea")).await;
    assert_eq!(l["owner"], "a");
    let l = app.ingest(&queued("c-3", "unknown-queue")).await;
    assert!(l["owner"].is_null());
    let h = app.history(l["id"].as_str().unwrap()).await;
    assert_eq!(h[0]["data"]["unassigned"], "unknown queue");
}

/// Issue: `a\u{202e}b` became a rep. Rep, queue and calendar ids a person types follow one slug
/// rule; control, whitespace, bidi and format characters are a 422 naming the field.
#[tokio::test]
async fn ids_with_control_bidi_or_format_characters_are_refused_everywhere() {
    let app = spawn_app().await;
    let calendar = json!({"time_zone": "UTC", "windows": [{"weekday": "mon", "start": "09:00", "end": "17:00"}]});
    for (path, body) in [
        ("/v1/reps/a%E2%80%AEb", json!({})),
        ("/v1/reps/a%20b", json!({})),
        ("/v1/reps/a%09b", json!({})),
        ("/v1/reps/a%E2%80%8Bb", json!({})),
        ("/v1/reps/_x", json!({})),
        ("/v1/queues/emea%E2%81%A6", json!({"strategy": "claim"})),
        ("/v1/queues/%C3%A9mea", json!({"strategy": "claim"})),
        ("/v1/calendars/Berlin", calendar.clone()),
    ] {
        let p = problem(put(&app, path, body).await, 422, "validation_failed").await;
        assert_eq!(fields(&p), ["id"], "{path}");
    }
    problem(
        app.get("/v1/reps/a%E2%80%AEb", &app.admin).await,
        404,
        "not_found",
    )
    .await;
    // CRM owner ids and emails stay valid.
    for id in ["005Dn000002AbCdEFG", "12345678", "sam.o@example.com"] {
        let res = put(&app, &format!("/v1/reps/{id}"), json!({})).await;
        assert_eq!(res.status(), 200, "{id}");
    }
    assert_eq!(app.count("reps").await, 3);

    let l = app
        .ingest(&json!({"source": "s", "external_id": "1", "lead_type": "t"}))
        .await;
    let assign = format!("/v1/leads/{}/assign", l["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"owner": "a\u{202e}b"}), "owner"),
        (json!({"queue": "emea\u{200b}"}), "queue"),
    ] {
        let p = problem(
            app.post(&assign, &app.admin, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let accept = format!("/v1/leads/{}/accept", l["id"].as_str().unwrap());
    let p = problem(
        app.post(&accept, &app.admin, &json!({"on_behalf_of": "a\u{2066}b"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["on_behalf_of"]);
    let p = problem(
        app.post(
            "/v1/api-keys",
            &app.admin,
            &json!({"role": "sdr", "rep": "a\u{202e}b"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["rep"]);
    assert_eq!(app.count("reps").await, 3, "no rep registered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_robin_is_exact_across_two_replicas_sharing_one_database() {
    let app = spawn_app().await;
    let reps: Vec<(&str, Value)> = ["a", "b", "c", "d"].map(|r| (r, json!({}))).to_vec();
    queue_with(&app, "emea", "round_robin", &reps).await;
    // A smaller replica: replicas need not be configured alike.
    let replica = spawn_replica(&app, |s| s.database_max_connections = 10).await;
    let token = app.key(Role::Ingest, None).await;
    // 100 concurrent ingests, every other one sent to the other replica.
    let requests = (0..100).map(|i| {
        let target = if i % 2 == 0 { &app } else { &replica };
        let req = target
            .client
            .post(target.url("/v1/leads"))
            .bearer_auth(&token)
            .json(&queued(&format!("rr2-{i}"), "emea"));
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    assert_eq!(
        open_per_owner(&app).await,
        [o("a", 25), o("b", 25), o("c", 25), o("d", 25)]
    );
}

#[tokio::test]
async fn the_ladder_repeats_a_second_reassignment_before_returning_to_the_queue() {
    let app = spawn_app().await;
    reassign_policy(&app).await;
    let reps: Vec<(&str, Value)> = ["a", "b", "c"].map(|r| (r, json!({}))).to_vec();
    queue_with(&app, "emea", "round_robin", &reps).await;
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    let l = app.ingest(&queued("c-1", "emea")).await;
    let id = l["id"].as_str().unwrap();
    assert_eq!(l["owner"], "a");
    let scan = scanner(&app);
    // (scan time, reassigned, returned to queue): the second owner's deadline is 12:00:30, the
    // third's an hour after its own reassignment at 12:01:00.
    let steps = [
        ("2026-03-02T11:00:30Z", 1, 0),
        ("2026-03-02T12:00:00Z", 0, 0),
        ("2026-03-02T12:01:00Z", 1, 0),
        ("2026-03-02T13:00:30Z", 0, 0),
        ("2026-03-02T13:01:30Z", 0, 1),
        ("2026-03-05T00:00:00Z", 0, 0),
    ];
    let mut owners = Vec::new();
    for (at, reassigned, returned) in steps {
        app.clock.set(at.parse().unwrap());
        let o = scan.run_once().await.unwrap();
        assert_eq!(
            (o.reassigned, o.counts.returned_to_queue),
            (reassigned, returned),
            "scan at {at}"
        );
        let l = app.lead(id).await;
        owners.push(l["owner"].as_str().map(str::to_string));
        assert_eq!(l["sla"]["due_at"], "2026-03-02T11:00:00Z", "{at}");
    }
    // Each rung goes to the next rep of the queue after the current owner: b, then c (it used
    // to take a round-robin turn among the untried reps, so a's lead could go to c first).
    let owners: Vec<Option<&str>> = owners.iter().map(Option::as_deref).collect();
    assert_eq!(
        owners,
        [Some("b"), Some("b"), Some("c"), Some("c"), None, None]
    );
    let (second, third) = ("b".to_string(), "c".to_string());
    let h = app.history(id).await;
    assert_eq!(
        kinds(&h),
        [
            "routed",
            "sla_at_risk",
            "sla_breached",
            "reassigned",
            "reassigned",
            "returned_to_queue"
        ]
    );
    fn rung(e: &Value) -> (Option<&str>, Option<&str>) {
        (e["data"]["from"].as_str(), e["rep"].as_str())
    }
    assert_eq!(rung(&h[3]), (Some("a"), Some(second.as_str())));
    assert_eq!(rung(&h[4]), (Some(second.as_str()), Some(third.as_str())));
    assert_eq!(h[5]["data"]["from"], third);
}

/// Issue: the ladder took a round-robin turn among the untried reps instead of following the
/// queue: with queue [a, b, c] a lead of b's went to a first.
#[tokio::test]
async fn the_ladder_follows_the_queue_from_the_current_owner_round_to_the_start() {
    let app = spawn_app().await;
    reassign_policy(&app).await;
    let reps: Vec<(&str, Value)> = ["a", "b", "c"].map(|r| (r, json!({}))).to_vec();
    queue_with(&app, "emea", "round_robin", &reps).await;
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    let mut body = queued("c-1", "emea");
    body["owner"] = json!("b");
    let l = app.ingest(&body).await;
    let id = l["id"].as_str().unwrap();
    assert_eq!(l["owner"], "b");
    let scan = scanner(&app);
    let mut owners = Vec::new();
    // Each rung's own deadline is an hour after it was given.
    for at in [
        "2026-03-02T11:00:30Z",
        "2026-03-02T12:01:00Z",
        "2026-03-02T13:01:30Z",
    ] {
        app.clock.set(at.parse().unwrap());
        scan.run_once().await.unwrap();
        owners.push(app.lead(id).await["owner"].as_str().map(str::to_string));
    }
    let owners: Vec<Option<&str>> = owners.iter().map(Option::as_deref).collect();
    assert_eq!(owners, [Some("c"), Some("a"), None]);
}

#[tokio::test]
async fn an_away_owner_defers_to_the_queue_until_the_absence_ends() {
    let app = spawn_app().await;
    queue_with(&app, "emea", "round_robin", &[("a", json!({}))]).await;
    let res = put(
        &app,
        "/v1/reps/rep-1",
        json!({"away_until": "2026-03-09T00:00:00Z"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    app.clock.set("2026-03-02T10:00:00Z".parse().unwrap());
    let l = app.ingest(&lead("c-1")).await; // owner rep-1 (away), queue emea
    assert_eq!(l["owner"], "a");
    let h = app.history(l["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            h[0]["data"]["owner_unavailable"].as_str(),
            h[0]["data"]["assigned_by"].as_str()
        ),
        (Some("rep-1"), Some("round_robin"))
    );
    let mut no_queue = lead("c-2");
    no_queue["queue"] = Value::Null;
    let l = app.ingest(&no_queue).await;
    assert_eq!(
        l["owner"], "rep-1",
        "without a queue the lead stays with its away owner"
    );
    app.clock.set("2026-03-09T00:00:00Z".parse().unwrap());
    let l = app.ingest(&lead("c-3")).await;
    assert_eq!(
        l["owner"], "rep-1",
        "back from absence, the CRM's choice wins"
    );
}
