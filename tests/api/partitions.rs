//! Monthly partitions: the partition job creates months ahead (once, whichever replicas run
//! it), a month whose rows already sit in the DEFAULT partition is left there with nothing
//! failing, the history refuses changes through its partitions too, retention drops an
//! expired outbox month and nothing else, and a 90-day report reads only its months' blocks.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use salgate::{
    clock::Clock,
    db,
    domain::cycle_facts::FORMAT,
    jobs::{
        partitions::PartitionJob,
        retention::{Retention, RetentionJob},
    },
};
use serde_json::Value;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{lead, spawn_app, TestApp};

const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
}

/// The first instant of a UTC month.
fn month(y: i32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).unwrap()
}

/// `<table>_pYYYYMM`.
fn part(table: &str, month: DateTime<Utc>) -> String {
    format!("{table}_p{:04}{:02}", month.year(), month.month())
}

/// Every partition of every partitioned table.
async fn partitions(pool: &PgPool) -> BTreeSet<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         JOIN pg_partitioned_table p ON p.partrelid = i.inhparent",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

fn job(app: &TestApp, now: DateTime<Utc>) -> PartitionJob {
    app.clock.set(now);
    PartitionJob::new(app.pool.clone(), Arc::new(app.clock.clone()))
}

const TABLES: [&str; 5] = [
    "crm_writebacks",
    "cycle_blocks",
    "lead_history",
    "notifications",
    "webhook_deliveries",
];

#[tokio::test]
async fn the_partition_job_creates_the_month_and_three_ahead_once_across_replicas() {
    let app = spawn_app().await;
    let before = partitions(&app.pool).await;
    let found = job(&app, at(2031, 1, 15)).run_once().await.unwrap();
    let mut expected = BTreeSet::new();
    for t in TABLES {
        for m in 1..=4 {
            expected.insert(part(t, at(2031, m, 1)));
        }
    }
    assert!(found.iter().all(|p| p.created()), "{found:?}");
    let created: BTreeSet<String> = found.iter().map(|p| part(&p.parent, p.month)).collect();
    assert_eq!(created, expected);
    let after = partitions(&app.pool).await;
    assert_eq!(
        after.difference(&before).cloned().collect::<BTreeSet<_>>(),
        expected
    );

    // Again: nothing to do. Two replicas at once in May: each month created once, no error.
    assert_eq!(job(&app, at(2031, 1, 20)).run_once().await.unwrap(), []);
    let (a, b) = (job(&app, at(2031, 5, 2)), job(&app, at(2031, 5, 2)));
    let (a, b) = tokio::join!(a.run_once(), b.run_once());
    let both: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert!(both.iter().all(|p| p.created()), "{both:?}");
    assert_eq!(
        both.len(),
        TABLES.len() * 4,
        "May to August, once each: {both:?}"
    );

    // Rows of a created month land in it.
    app.ingest(&lead("p-1")).await;
    let home: String = sqlx::query_scalar("SELECT tableoid::regclass::text FROM lead_history")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(home, "lead_history_p203105");
}

#[tokio::test]
async fn a_month_already_in_the_default_partition_stays_there_and_nothing_fails() {
    let app = spawn_app().await;
    // No partition for June 2033: the lead's history goes to DEFAULT.
    app.clock.set(at(2033, 6, 10));
    let first = app.ingest(&lead("d-1")).await;
    let in_default = app.count("lead_history_default").await;
    assert!(in_default > 0);

    let found = job(&app, at(2033, 6, 11)).run_once().await.unwrap();
    let outcome = |t: &str, m: DateTime<Utc>| {
        found
            .iter()
            .find(|p| p.parent == t && p.month == m)
            .map(|p| p.outcome.clone())
    };
    assert_eq!(
        outcome("lead_history", month(2033, 6)).as_deref(),
        Some("default_holds_rows"),
        "{found:?}"
    );
    assert_eq!(
        outcome("lead_history", month(2033, 7)).as_deref(),
        Some("created")
    );
    assert_eq!(
        outcome("webhook_deliveries", month(2033, 6)).as_deref(),
        Some("created")
    );
    let names = partitions(&app.pool).await;
    assert!(!names.contains("lead_history_p203306"));
    assert!(names.contains("lead_history_p203307"));

    // Ingest, decisions and reads go on; June stays in DEFAULT, every next pass says so.
    let second = app.ingest(&lead("d-2")).await;
    assert_eq!(app.count("lead_history_default").await, 2 * in_default);
    assert_eq!(
        app.history(first["id"].as_str().unwrap()).await.len(),
        in_default as usize
    );
    assert_eq!(
        app.history(second["id"].as_str().unwrap()).await.len(),
        in_default as usize
    );
    let again = job(&app, at(2033, 6, 12)).run_once().await.unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].outcome, "default_holds_rows");
    // July's rows go to July.
    app.clock.set(at(2033, 7, 2));
    app.ingest(&lead("d-3")).await;
    assert_eq!(app.count("lead_history_p203307").await, in_default);
}

#[tokio::test]
async fn no_partition_of_the_history_can_be_updated_deleted_or_truncated() {
    let app = spawn_app().await;
    app.ingest(&lead("h-1")).await;
    let home: String = sqlx::query_scalar("SELECT tableoid::regclass::text FROM lead_history")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let created = job(&app, at(2034, 2, 1)).run_once().await.unwrap();
    assert!(!created.is_empty());
    for sql in [
        format!("UPDATE {home} SET note = 'rewritten'"),
        format!("DELETE FROM {home}"),
        format!("TRUNCATE {home}"),
        "TRUNCATE lead_history_default".to_string(),
        // A month the job created.
        "TRUNCATE lead_history_p203403".to_string(),
    ] {
        let err = sqlx::query(&sql).execute(&app.pool).await.expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(app.count("lead_history").await, app.count(&home).await);
}

/// A delivery of `status` created at `created`, last attempted (and delivered, when
/// `delivered`) at `last`.
async fn delivery(
    pool: &PgPool,
    sub: Uuid,
    status: &str,
    created: DateTime<Utc>,
    last: DateTime<Utc>,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, lead_id, seq, \
           payload, status, next_attempt_at, created_at, delivered_at) \
         VALUES ($1, $2, $1, 'lead.routed', $1, 1, '{}', $3, $5, $4, \
           CASE WHEN $3 = 'delivered' THEN $5 END)",
    )
    .bind(id)
    .bind(sub)
    .bind(status)
    .bind(created)
    .bind(last)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms) \
         VALUES ($1, $2, 200, 1)",
    )
    .bind(id)
    .bind(last)
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A notification of `status` created at `created`, last attempted (sent, when `sent`) at
/// `last`.
async fn notification(pool: &PgPool, status: &str, created: DateTime<Utc>, last: DateTime<Utc>) {
    sqlx::query(
        "INSERT INTO notifications (id, event_id, history_id, kind, channel, recipient, lead_id, \
           cycle, payload, status, next_attempt_at, created_at, sent_at) \
         VALUES ($1, $1, 1, 'routed', 'email', 'a@example.com', $1, 1, '{}', $2, $4, $3, \
           CASE WHEN $2 = 'sent' THEN $4 END)",
    )
    .bind(Uuid::now_v7())
    .bind(status)
    .bind(created)
    .bind(last)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn retention_drops_an_expired_outbox_month_and_nothing_else() {
    let app = spawn_app().await;
    let pool = &app.pool;
    // Before the months the migration made (the current one and three ahead, all empty, which
    // a later clock would rightly drop too).
    let now = at(2025, 9, 15);
    // March to May 2025 exist; a lead's history is in March.
    let mut months = job(&app, at(2025, 3, 10));
    months.ahead = 2;
    months.run_once().await.unwrap();
    app.ingest(&lead("r-1")).await;
    let history = app.count("lead_history").await;
    let (march, april, may) = (at(2025, 3, 10), at(2025, 4, 10), at(2025, 5, 10));
    // Delivered (sent) after the 30-day cutoff, dead but attempted after the 90-day one.
    let recently = now - Duration::days(10);

    let sub = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO webhook_subscriptions (id, url, secret, created_at) \
         VALUES ($1, 'https://example.com/hook', 's', $2)",
    )
    .bind(sub)
    .bind(march)
    .execute(pool)
    .await
    .unwrap();
    let gone = [
        delivery(pool, sub, "delivered", march, march).await,
        delivery(pool, sub, "dead", march, march).await,
    ];
    // April holds a delivery still pending (with its head) and a notification not sent yet;
    // May rows last attempted recently.
    let pending = delivery(pool, sub, "pending", april, april).await;
    let recent = [
        delivery(pool, sub, "delivered", may, recently).await,
        delivery(pool, sub, "dead", may, recently).await,
    ];
    sqlx::query(
        "INSERT INTO webhook_heads (subscription_id, lead_id, delivery_id, due_at) \
         VALUES ($1, $2, $2, $3)",
    )
    .bind(sub)
    .bind(pending)
    .bind(april)
    .execute(pool)
    .await
    .unwrap();
    notification(pool, "sent", march, march).await;
    notification(pool, "pending", april, april).await;
    notification(pool, "dead", may, recently).await;
    let before = partitions(pool).await;

    app.clock.set(now);
    let retention = Retention {
        webhooks: Some(30 * DAY),
        dead_webhooks: Some(90 * DAY),
        receipts: None,
        auto_reps: None,
    };
    let job = RetentionJob::new(pool.clone(), Arc::new(app.clock.clone()), retention);
    let purged = job.run_once(&CancellationToken::new()).await.unwrap();
    assert!(purged.contains(&("partitions", 2)), "{purged:?}");

    let after = partitions(pool).await;
    let dropped: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(
        dropped,
        BTreeSet::from([
            part("webhook_deliveries", march),
            part("notifications", march)
        ])
    );
    assert!(after.is_subset(&before));
    // Their rows and the attempts of their deliveries went with them; nothing else did.
    let attempts: Vec<Uuid> =
        sqlx::query_scalar("SELECT delivery_id FROM webhook_attempts ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(attempts, [pending, recent[0], recent[1]], "gone: {gone:?}");
    assert_eq!(app.count("webhook_deliveries").await, 3);
    assert_eq!(app.count("webhook_heads").await, 1);
    assert_eq!(app.count("notifications").await, 2);
    assert_eq!(app.count("lead_history").await, history);
    assert_eq!(app.count("lead_history_p202503").await, history);

    // Retention off: nothing is dropped, however old.
    app.clock.set(now + Duration::days(400));
    sqlx::query("UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $1")
        .bind(may)
        .execute(pool)
        .await
        .unwrap();
    let off = Retention {
        webhooks: None,
        dead_webhooks: None,
        receipts: None,
        auto_reps: None,
    };
    let kept = RetentionJob::new(pool.clone(), Arc::new(app.clock.clone()), off);
    assert_eq!(
        kept.drop_partitions(app.clock.now()).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(partitions(pool).await, after);
    // And the history is never dropped by month.
    let err = db::partitions::drop_expired(pool, "lead_history", now, now)
        .await
        .expect_err("history");
    assert!(err.to_string().contains("kept forever"), "{err}");
}

/// Every relation an `EXPLAIN (FORMAT JSON)` plan reads.
fn relations(plan: &Value, into: &mut BTreeSet<String>) {
    match plan {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("Relation Name") {
                into.insert(r.clone());
            }
            o.values().for_each(|v| relations(v, into));
        }
        Value::Array(a) => a.iter().for_each(|v| relations(v, into)),
        _ => {}
    }
}

#[tokio::test]
async fn a_90_day_report_reads_the_blocks_of_its_months_only() {
    let app = spawn_app().await;
    // Two years of months.
    let mut months = job(&app, at(2031, 1, 1));
    months.ahead = 23;
    months.run_once().await.unwrap();
    let sql = db::statements()
        .find(|s| s.name == "salgate::db::cycle_blocks::CLEAN_BLOCKS")
        .unwrap()
        .sql;
    let (from, to) = (at(2032, 3, 10), at(2032, 6, 8));
    assert_eq!(to - from, Duration::days(90));
    let expected: BTreeSet<String> = [3, 4, 5, 6]
        .map(|m| part("cycle_blocks", at(2032, m, 1)))
        .into();
    // A plan for these bounds (pruned when planned), and a generic plan as a cached statement
    // gets after five runs (pruned when it starts).
    for mode in ["force_custom_plan", "force_generic_plan"] {
        let mut tx = app.pool.begin().await.unwrap();
        sqlx::query(&format!("SET LOCAL plan_cache_mode = {mode}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let plan: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) {sql}"))
            .bind(from)
            .bind(to)
            .bind(FORMAT)
            .bind(true)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let mut read = BTreeSet::new();
        relations(&plan, &mut read);
        let blocks: BTreeSet<String> = read
            .into_iter()
            .filter(|r| r.starts_with("cycle_blocks"))
            .collect();
        assert_eq!(blocks, expected, "{mode}: {plan:#}");
    }
}

#[tokio::test]
async fn a_breach_notifies_once_per_lead_and_cycle_across_months() {
    let app = spawn_app().await;
    crate::notify::who_hears(&app).await;
    let slack = crate::notify::Scripted::answering(vec![]);
    crate::notify::notifier(&app, Some(slack), None).await;
    let id: Uuid = app.ingest(&lead("m-1")).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Two breach entries of one cycle (a writer gone wrong), recorded in two months: the
    // second notifies nobody, though its rows would go to another month's partition.
    let now = app.clock.now();
    for recorded in [now, now + Duration::days(40)] {
        sqlx::query(
            "INSERT INTO lead_history (lead_id, cycle, kind, actor, actor_role, rep_id, \
               occurred_at, recorded_at) \
             VALUES ($1, 1, 'sla_breached', 'system', 'system', 'rep-1', $2, $2)",
        )
        .bind(id)
        .bind(recorded)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let breaches: Vec<(String, String)> = sqlx::query_as(
        "SELECT recipient, tableoid::regclass::text FROM notifications \
         WHERE kind = 'breached' ORDER BY 1",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let month = part("notifications", now);
    assert_eq!(
        breaches,
        [
            ("C0EMEA".to_string(), month.clone()),
            ("U0SAM".to_string(), month)
        ]
    );
}
