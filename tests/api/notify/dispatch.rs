//! The dispatcher on the manual clock (no sleeps): a failure is retried with backoff, a
//! Retry-After is honoured to the instant, a row is dead after the attempt limit (and shows
//! so in the list and /metrics), a rejection is dead at once, and rows of a channel nobody can
//! send on wait, saying so.

use std::time::Duration;

use chrono::DateTime;
use salgate::{clock::Clock, jobs::notifier::Outcome, notify::Delivered};

use super::{listed, notifier, who_hears, Scripted};
use crate::helpers::{lead, spawn_app, TestApp};

async fn next_attempt(app: &TestApp) -> DateTime<chrono::Utc> {
    sqlx::query_scalar("SELECT next_attempt_at FROM notifications")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn secs(s: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((s * 1000.0) as i64)
}

#[tokio::test]
async fn failed_then_sent_is_retried_with_backoff_and_retry_after_exactly() {
    let app = spawn_app().await;
    who_hears(&app).await;
    let slack = Scripted::answering(vec![
        Delivered::Failed("503 from Slack".into()),
        Delivered::Failed("503 from Slack".into()),
        Delivered::RetryAfter(Duration::from_secs(30)),
    ]);
    let n = notifier(&app, Some(slack.clone()), None).await;
    app.ingest(&lead("retry-1")).await;
    let t0 = app.clock.now();
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::Failed));
    // First retry after 1 s ± 20 %; not before.
    let at = next_attempt(&app).await;
    assert!(at >= t0 + secs(0.8) && at <= t0 + secs(1.2), "{at} vs {t0}");
    assert_eq!(n.run_once().await.unwrap(), None, "not due yet");
    app.clock.set(at);
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::Failed));
    // Second: 2 s ± 20 %.
    let at2 = next_attempt(&app).await;
    assert!(
        at2 >= at + secs(1.6) && at2 <= at + secs(2.4),
        "{at2} vs {at}"
    );
    app.clock.set(at2);
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::RetryAfter));
    // Retry-After: exactly 30 s later, not a moment before.
    assert_eq!(
        next_attempt(&app).await,
        at2 + chrono::Duration::seconds(30)
    );
    app.clock
        .set(at2 + chrono::Duration::seconds(30) - chrono::Duration::milliseconds(1));
    assert_eq!(n.run_once().await.unwrap(), None);
    app.clock.set(at2 + chrono::Duration::seconds(30));
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::Sent));
    let item = &listed(&app, "?status=sent&channel=slack").await[0];
    assert_eq!(item["attempts"], 4);
    assert_eq!(item["kind"], "routed");
    assert_eq!(item["recipient"], "U0SAM");
    assert_eq!(slack.got.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn dead_after_the_limit_or_at_a_rejection_and_visible_in_the_list_and_metrics() {
    let app = spawn_app().await;
    who_hears(&app).await;
    let slack = Scripted::answering(vec![
        Delivered::Failed("timeout".into()),
        Delivered::Failed("timeout".into()),
        Delivered::Failed("channel_not_found?".into()),
        Delivered::Rejected("user_not_found".into()),
    ]);
    let n = notifier(&app, Some(slack), None).await.with_max_attempts(3);
    let before = dead_count(&app).await;
    let id = app.ingest(&lead("dead-1")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for want in [Outcome::Failed, Outcome::Failed, Outcome::Dead] {
        app.clock.advance(chrono::Duration::hours(1));
        assert_eq!(n.run_once().await.unwrap(), Some(want));
    }
    app.clock.advance(chrono::Duration::hours(1));
    assert_eq!(n.run_once().await.unwrap(), None, "dead rows are not sent");
    let dead = listed(&app, &format!("?status=dead&lead_id={id}")).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(dead[0]["last_error"], "channel_not_found?");
    // A rejection is dead at its first attempt.
    app.ingest(&lead("dead-2")).await;
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::Dead));
    assert_eq!(listed(&app, "?status=dead").await.len(), 2);
    assert_eq!(dead_count(&app).await - before, 2.0);
    // Bad filters are 422.
    let res = app
        .get("/v1/notifications?status=lost&channel=fax", &app.admin)
        .await;
    assert_eq!(res.status(), 422);
    let sdr = app.key(salgate::domain::Role::Sdr, Some("rep-1")).await;
    assert_eq!(app.get("/v1/notifications", &sdr).await.status(), 403);
}

async fn dead_count(app: &TestApp) -> f64 {
    let page = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.lines()
        .find(|l| l.starts_with("salgate_notifications_total{channel=\"slack\",outcome=\"dead\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn rows_of_a_channel_nobody_can_send_on_wait_and_say_so() {
    let app = spawn_app().await;
    who_hears(&app).await;
    let slack = Scripted::answering(vec![]);
    notifier(&app, Some(slack.clone()), Some(Scripted::answering(vec![]))).await;
    app.ingest(&lead("wait-1")).await;
    // This replica restarts without email: its rows wait, Slack's go.
    let n = notifier(&app, Some(slack), None).await;
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::Sent));
    assert_eq!(n.run_once().await.unwrap(), None);
    let waiting = listed(&app, "?status=pending").await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["channel"], "email");
    assert_eq!(
        waiting[0]["waiting_for"],
        "no email transport is configured"
    );
    // And no new email rows are written while nobody can send email.
    app.ingest(&lead("wait-2")).await;
    assert_eq!(listed(&app, "?channel=email").await.len(), 1);
}

#[tokio::test]
async fn the_purge_deletes_old_sent_and_dead_notifications_and_keeps_pending_ones() {
    let app = spawn_app().await;
    who_hears(&app).await;
    let n = notifier(&app, Some(Scripted::answering(vec![])), None).await;
    for id in ["p-1", "p-2", "p-3"] {
        app.ingest(&lead(id)).await;
    }
    assert_eq!(n.run_once().await.unwrap(), Some(Outcome::Sent));
    // One sent, one dead, one pending, all 100 days old.
    let old = app.clock.now() - chrono::Duration::days(100);
    sqlx::query(
        "UPDATE notifications SET created_at = $1, next_attempt_at = $1, \
           sent_at = CASE WHEN status = 'sent' THEN $1 END, \
           status = CASE WHEN status = 'sent' THEN 'sent' \
                         WHEN id = (SELECT id FROM notifications WHERE status <> 'sent' \
                                   ORDER BY id LIMIT 1) THEN 'pending' \
                         ELSE 'dead' END",
    )
    .bind(old)
    .execute(&app.pool)
    .await
    .unwrap();
    let day = Duration::from_secs(86_400);
    let retention = salgate::jobs::retention::Retention {
        webhooks: Some(30 * day),
        dead_webhooks: Some(90 * day),
        receipts: None,
        auto_reps: None,
    };
    let job = salgate::jobs::retention::RetentionJob::new(
        app.pool.clone(),
        std::sync::Arc::new(app.clock.clone()),
        retention,
    );
    let purged = job
        .run_once(&tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    let of: u64 = purged
        .iter()
        .filter(|(t, _)| *t == "notifications")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(of, 2, "{purged:?}");
    let left: Vec<String> = sqlx::query_scalar("SELECT status FROM notifications")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["pending".to_string()]);
}
