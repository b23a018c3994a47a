//! The retention job: old delivered/dead webhooks (with attempts), receipts, idempotency records
//! and unused auto-registered reps go; young rows, pending deliveries and history stay.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use salgate::{
    clock::Clock,
    jobs::retention::{Retention, RetentionJob},
};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{lead, spawn_app};

const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

/// A delivery of `status` created at `created`, delivered at `delivered`, with an attempt at
/// each of `attempts`.
async fn delivery(
    pool: &PgPool,
    sub: Uuid,
    status: &str,
    created: DateTime<Utc>,
    delivered: Option<DateTime<Utc>>,
    attempts: &[DateTime<Utc>],
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, lead_id, seq, \
           payload, status, next_attempt_at, created_at, delivered_at) \
         VALUES ($1, $2, $1, 'lead.routed', $1, 1, '{}', $3, $4, $4, $5)",
    )
    .bind(id)
    .bind(sub)
    .bind(status)
    .bind(created)
    .bind(delivered)
    .execute(pool)
    .await
    .unwrap();
    for at in attempts {
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms) \
             VALUES ($1, $2, 500, 1)",
        )
        .bind(id)
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    }
    id
}

async fn ids(pool: &PgPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn the_purge_deletes_old_rows_in_batches_and_keeps_young_ones_pending_ones_and_history() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let ago = |days: i64| now - Duration::days(days);
    let pool = &app.pool;
    // History: a lead owned by the auto-registered rep-1.
    app.ingest(&lead("c-1")).await;
    let history = app.count("lead_history").await;

    let sub = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, url, secret, created_at) \
         VALUES ($1, 'https://example.com/hook', 's', $2)",
    )
    .bind(sub)
    .bind(ago(200))
    .execute(pool)
    .await
    .unwrap();
    let mut gone = vec![];
    for _ in 0..3 {
        let t = ago(31);
        gone.push(delivery(pool, sub, "delivered", t, Some(t), &[t, t]).await);
    }
    gone.push(delivery(pool, sub, "dead", ago(95), None, &[ago(91)]).await);
    let kept = [
        delivery(pool, sub, "delivered", ago(40), Some(ago(29)), &[ago(29)]).await,
        delivery(pool, sub, "pending", ago(300), None, &[ago(300)]).await,
        delivery(pool, sub, "dead", ago(120), None, &[ago(120), ago(89)]).await,
        delivery(pool, sub, "dead", ago(80), None, &[]).await,
    ];
    for (key, days) in [("old", 31), ("young", 29)] {
        sqlx::query(
            "INSERT INTO integration_receipts (provider, key, received_at) VALUES ('hubspot', $1, $2)",
        )
        .bind(key)
        .bind(ago(days))
        .execute(pool)
        .await
        .unwrap();
    }
    for (key, hours) in [("old", 25), ("young", 23)] {
        sqlx::query(
            "INSERT INTO idempotency_keys (api_key_id, key, request_hash, status, created_at) \
             VALUES ($1, $2, '\\x00', 200, $3)",
        )
        .bind(Uuid::now_v7())
        .bind(key)
        .bind(now - Duration::hours(hours))
        .execute(pool)
        .await
        .unwrap();
    }
    for (id, auto, days) in [
        ("unused", true, 61),
        ("recent", true, 59),
        ("described", false, 61),
    ] {
        sqlx::query(
            "INSERT INTO reps (id, name, auto_registered, created_at, updated_at) \
             VALUES ($1, $1, $2, $3, $3)",
        )
        .bind(id)
        .bind(auto)
        .bind(ago(days))
        .execute(pool)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE reps SET updated_at = $1 WHERE id = 'rep-1'")
        .bind(ago(100))
        .execute(pool)
        .await
        .unwrap();

    let retention = Retention {
        webhooks: Some(30 * DAY),
        dead_webhooks: Some(90 * DAY),
        receipts: Some(30 * DAY),
        auto_reps: Some(60 * DAY),
    };
    let mut job = RetentionJob::new(pool.clone(), Arc::new(app.clock.clone()), retention);
    job.batch = 2;
    let purged = job.run_once(&CancellationToken::new()).await.unwrap();
    let of = |table: &str| -> u64 {
        purged
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(of("webhook_deliveries"), 4, "{purged:?}");
    assert_eq!(of("webhook_attempts"), 7, "{purged:?}");
    assert_eq!(of("integration_receipts"), 1);
    assert_eq!(of("idempotency_keys"), 1);
    assert_eq!(of("reps"), 1);

    let left: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM webhook_deliveries ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(left, kept.to_vec());
    let orphans: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_attempts WHERE delivery_id = ANY($1)")
            .bind(&gone)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(orphans, 0);
    assert_eq!(app.count("webhook_attempts").await, 4);
    assert_eq!(
        ids(pool, "SELECT key FROM integration_receipts").await,
        ["young"]
    );
    assert_eq!(
        ids(pool, "SELECT key FROM idempotency_keys").await,
        ["young"]
    );
    assert_eq!(
        ids(pool, "SELECT id FROM reps ORDER BY id").await,
        ["described", "recent", "rep-1"],
        "rep-1 owns a lead"
    );
    assert_eq!(app.count("lead_history").await, history);
    assert_eq!(app.count("leads").await, 1);

    // A second pass (or another replica's) finds nothing; `off` keeps everything.
    assert!(job
        .run_once(&CancellationToken::new())
        .await
        .unwrap()
        .iter()
        .all(|(_, n)| *n == 0));
    app.clock.advance(Duration::days(400));
    job.retention = Retention {
        webhooks: None,
        dead_webhooks: None,
        receipts: None,
        auto_reps: None,
    };
    job.run_once(&CancellationToken::new()).await.unwrap();
    assert_eq!(app.count("webhook_deliveries").await, 4);
    assert_eq!(app.count("integration_receipts").await, 1);
    assert_eq!(app.count("reps").await, 3);

    let metrics = app.get("/metrics", "").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l
                .starts_with("salgate_retention_purged_rows_total{table=\"webhook_attempts\"}")),
        "{metrics}"
    );
}
