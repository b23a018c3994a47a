//! Who hears what: one row per recipient and channel configured, the away rep muted, a queue
//! switch off silencing a kind, unassigned leads to the queue, and the SLA kinds once per lead
//! and cycle with two replicas scanning (and sending) at once.

use std::{collections::HashSet, sync::Arc};

use salgate::{clock::Clock, jobs::sla_scanner::SlaScanner};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{notifier, put, rows, who_hears, Scripted};
use crate::helpers::{drain_in_parallel, lead, spawn_app, spawn_replica, TestApp};

fn row(kind: &str, channel: &str, to: &str) -> (String, String, String) {
    (kind.into(), channel.into(), to.into())
}

#[tokio::test]
async fn routed_notifies_the_owner_once_per_channel_unless_away_or_switched_off() {
    let app = spawn_app().await;
    who_hears(&app).await;
    // No channel can be sent on: the trigger writes nothing.
    app.ingest(&lead("quiet")).await;
    assert!(rows(&app).await.is_empty());
    let slack = Scripted::answering(vec![]);
    let email = Scripted::answering(vec![]);
    notifier(&app, Some(slack), Some(email)).await;
    app.ingest(&lead("w-1")).await;
    assert_eq!(
        rows(&app).await,
        vec![
            row("routed", "email", "sam@example.com"),
            row("routed", "slack", "U0SAM")
        ]
    );
    // Away: muted. (An away owner named at ingest defers to the queue, so the reminder of a
    // lead it already owns is the case: at risk 45 minutes into its hour.)
    let away = app.clock.now() + chrono::Duration::hours(2);
    put(
        &app,
        "/v1/reps/rep-1",
        json!({"queues": ["emea"], "email": "sam@example.com", "away_until": away}),
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(50));
    let flagged = SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()))
        .drain(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(flagged.at_risk, 2, "{flagged:?}");
    assert_eq!(to_sam(&app).await, 2, "an away rep hears nothing");
    // Back (the Slack id is kept by a PUT that leaves it out; `email` is replaced as ever);
    // the queue turns `routed` off: nothing.
    let rep = put(
        &app,
        "/v1/reps/rep-1",
        json!({"queues": ["emea"], "email": "sam@example.com"}),
    )
    .await;
    assert_eq!(rep["slack_user_id"], "U0SAM", "{rep}");
    let q = put(
        &app,
        "/v1/queues/emea",
        json!({"strategy": "round_robin", "notifications": {"routed": false}}),
    )
    .await;
    assert_eq!(q["slack_channel"], "C0EMEA", "{q}");
    assert_eq!(q["notifications"]["routed"], false, "{q}");
    assert_eq!(q["notifications"]["breached"], true, "{q}");
    app.ingest(&lead("w-3")).await;
    assert_eq!(to_sam(&app).await, 2, "routed is off for the queue");
    put(
        &app,
        "/v1/queues/emea",
        json!({"strategy": "round_robin", "notifications": {"routed": true}}),
    )
    .await;
    app.ingest(&lead("w-4")).await;
    assert_eq!(to_sam(&app).await, 4);
}

/// Rows for rep-1 (an away owner's lead may go to the queue instead: not counted).
async fn to_sam(app: &TestApp) -> usize {
    rows(app)
        .await
        .iter()
        .filter(|(_, _, to)| to == "U0SAM" || to == "sam@example.com")
        .count()
}

#[tokio::test]
async fn a_lead_waiting_unassigned_notifies_the_queue_channel_and_list() {
    let app = spawn_app().await;
    who_hears(&app).await;
    put(
        &app,
        "/v1/queues/emea",
        json!({"strategy": "claim", "notify_emails": ["a@example.com", "b@example.com"]}),
    )
    .await;
    notifier(
        &app,
        Some(Scripted::answering(vec![])),
        Some(Scripted::answering(vec![])),
    )
    .await;
    let mut body = lead("pool-1");
    body.as_object_mut().unwrap().remove("owner");
    app.ingest(&body).await;
    assert_eq!(
        rows(&app).await,
        vec![
            row("unassigned", "email", "a@example.com"),
            row("unassigned", "email", "b@example.com"),
            row("unassigned", "slack", "C0EMEA"),
        ]
    );
    // Turned off for the queue: nothing more.
    put(
        &app,
        "/v1/queues/emea",
        json!({"strategy": "claim", "notifications": {"unassigned": false}}),
    )
    .await;
    body["external_id"] = json!("pool-2");
    app.ingest(&body).await;
    assert_eq!(rows(&app).await.len(), 3);
}

fn scanner(app: &TestApp) -> SlaScanner {
    let mut s = SlaScanner::new(app.pool.clone(), Arc::new(app.clock.clone()));
    s.batch = 25; // several batches each, so the two replicas interleave
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_risk_and_breach_notify_once_per_lead_and_cycle_with_two_replicas() {
    let app = spawn_app().await;
    let other = spawn_replica(&app, |_| {}).await;
    who_hears(&app).await;
    let slack = Scripted::answering(vec![]);
    // Both replicas send on Slack (no email here).
    let a = notifier(&app, Some(slack.clone()), None).await;
    let b = salgate::jobs::notifier::Notifier::new(
        other.pool.clone(),
        Arc::new(other.clock.clone()),
        Some(slack.clone()),
        None,
    );
    let due = app.clock.now();
    let n: i64 = 300;
    sqlx::query(
        "INSERT INTO leads (id, source, external_id, lead_type, owner, queue, state, cycle, \
           routed_at, created_at, updated_at, sla_policy, sla_due_at, sla_at_risk_at) \
         SELECT gen_random_uuid(), 'bulk', 'b-' || i, 'demo_request', 'rep-1', 'emea', 'routed', \
           1, $1 - interval '1 hour', $1, $1, 'demo_request', $1, $1 - interval '15 minutes' \
         FROM generate_series(1, $2) AS i",
    )
    .bind(due)
    .bind(n)
    .execute(&app.pool)
    .await
    .unwrap();
    let later = due + chrono::Duration::seconds(1);
    app.clock.set(later);
    other.clock.set(later);
    let counts = drain_in_parallel(vec![scanner(&app), scanner(&other)]).await;
    assert_eq!(counts[0].breached + counts[1].breached, n, "{counts:?}");
    // Again: nothing new is flagged, nothing new is written.
    drain_in_parallel(vec![scanner(&app), scanner(&other)]).await;
    let per_kind: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, recipient, count(*) FROM notifications GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        per_kind,
        vec![
            ("at_risk".into(), "U0SAM".into(), n),
            ("breached".into(), "C0EMEA".into(), n),
            ("breached".into(), "U0SAM".into(), n),
        ]
    );
    let per_lead: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT (lead_id, cycle, kind, recipient)) FROM notifications",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(per_lead, 3 * n);
    // A second breach entry for a lead and cycle (a writer gone wrong) notifies nobody again.
    sqlx::query(
        "INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, occurred_at) \
         SELECT id, 1, 'sla_breached', 'system', 'system', 'rep-1', now() FROM leads LIMIT 1",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(app.count("notifications").await, 3 * n);
    // The two replicas' dispatchers send each exactly once.
    let (x, y) = tokio::join!(
        tokio::spawn({
            let a = a.clone();
            async move { a.drain(&CancellationToken::new()).await.unwrap() }
        }),
        tokio::spawn(async move { b.drain(&CancellationToken::new()).await.unwrap() }),
    );
    assert_eq!(x.unwrap() + y.unwrap(), (3 * n) as u64);
    let got = slack.got.lock().unwrap();
    let ids: HashSet<_> = got.iter().map(|m| m.id).collect();
    assert_eq!((got.len(), ids.len()), ((3 * n) as usize, (3 * n) as usize));
    let breach = got
        .iter()
        .find(|m| m.kind == salgate::notify::NotificationKind::Breached)
        .unwrap();
    assert_eq!(breach.payload["queue"], "emea");
    assert_eq!(breach.payload["owner"], "rep-1");
}

#[tokio::test]
async fn bad_notification_settings_are_422_naming_the_field_and_documented() {
    let app = spawn_app().await;
    let cases = [
        (
            "/v1/reps/rep-1",
            json!({"slack_user_id": "U 1"}),
            "slack_user_id",
        ),
        (
            "/v1/reps/rep-1",
            json!({"slack_user_id": 7}),
            "slack_user_id",
        ),
        (
            "/v1/queues/emea",
            json!({"strategy": "claim", "notify_emails": ["nope"]}),
            "notify_emails",
        ),
        (
            "/v1/queues/emea",
            json!({"strategy": "claim", "notifications": {"routed": "yes"}}),
            "notifications.routed",
        ),
        (
            "/v1/queues/emea",
            json!({"strategy": "claim", "notifications": {"loud": true}}),
            "notifications.loud",
        ),
    ];
    for (path, body, field) in cases {
        let res = app
            .request(reqwest::Method::PUT, path, &app.admin, Some(&body))
            .await;
        let p = crate::helpers::problem(res, 422, "validation_failed").await;
        assert_eq!(crate::helpers::fields(&p), vec![field.to_string()], "{p}");
    }
    let api: serde_json::Value = reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(api["paths"]["/v1/notifications"]["get"].is_object());
    let text = api.to_string();
    for name in [
        "slack_user_id",
        "slack_channel",
        "notify_emails",
        "first_touch",
    ] {
        assert!(text.contains(name), "{name} is not in the OpenAPI document");
    }
}

#[tokio::test]
async fn a_person_on_both_sides_of_a_breach_hears_it_once() {
    let app = spawn_app().await;
    who_hears(&app).await;
    // Sam is the owner and on the queue's list.
    put(
        &app,
        "/v1/queues/emea",
        json!({"strategy": "round_robin", "notify_emails": ["sam@example.com"]}),
    )
    .await;
    notifier(&app, None, Some(Scripted::answering(vec![]))).await;
    app.ingest(&lead("both-1")).await;
    app.clock.advance(chrono::Duration::hours(2));
    scanner(&app)
        .drain(&CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        rows(&app).await,
        vec![
            row("at_risk", "email", "sam@example.com"),
            row("breached", "email", "sam@example.com"),
            row("routed", "email", "sam@example.com"),
        ]
    );
}
