//! Group commit of one-lead ingests (src/service/group_commit.rs), with real requests against
//! a real database. Each test holds every insert into `leads` behind a table lock until both
//! group tasks have a statement waiting on it, then sends the requests under test: they wait
//! together and go as one group once the lock is released. That the group was one commit shows
//! in the rows' `xmin` (the inserting transaction).

use std::time::Duration;

use reqwest::Response;
use salgate::{domain::Role, service::group_commit::MAX_IN_FLIGHT};
use serde_json::{json, Value};
use sqlx::{Postgres, Transaction};
use tokio::task::JoinHandle;

use crate::helpers::{lead, problem, spawn_app, TestApp};

/// Blocks inserts into `leads` and waits until `MAX_IN_FLIGHT` leads (`<prefix>-lead-<i>`)
/// are in flight behind the lock, one per group task. Returns the lock and those requests.
async fn hold_the_groups(
    app: &TestApp,
    token: &str,
    body: impl Fn(&str) -> Value,
) -> (Transaction<'static, Postgres>, Vec<JoinHandle<Response>>) {
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE leads IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut leaders = Vec::new();
    for i in 0..MAX_IN_FLIGHT {
        leaders.push(send(app, token, body(&format!("lead-{i}")), None));
        wait_for_blocked_inserts(app, i + 1).await;
    }
    (tx, leaders)
}

fn send(app: &TestApp, token: &str, body: Value, key: Option<&str>) -> JoinHandle<Response> {
    let mut req = app
        .client
        .post(app.url("/v1/leads"))
        .bearer_auth(token)
        .json(&body);
    if let Some(key) = key {
        req = req.header("idempotency-key", key);
    }
    tokio::spawn(async move { req.send().await.unwrap() })
}

/// Waits (bounded) until `n` statements inserting into this test's `leads` wait on a lock.
async fn wait_for_blocked_inserts(app: &TestApp, n: usize) {
    wait_for_blocked(app, n, "%INSERT INTO leads%").await
}

/// Waits (bounded) until `n` statements like `pattern` wait on a lock in this test's database.
pub(crate) async fn wait_for_blocked(app: &TestApp, n: usize, pattern: &str) {
    let blocked = "SELECT count(*) FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE $1";
    for _ in 0..400 {
        let waiting: i64 = sqlx::query_scalar(blocked)
            .bind(pattern)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if waiting as usize >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{n} inserts never waited on the lock together");
}

/// Waits (bounded) until `n` leads wait for their group.
async fn wait_for_group(app: &TestApp, n: usize) {
    for _ in 0..400 {
        if app.group_commit.waiting() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "{n} leads never waited for a group ({} did)",
        app.group_commit.waiting()
    );
}

/// How many transactions inserted the leads with these external ids.
async fn commits_of(app: &TestApp, ids: &[String]) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM leads WHERE external_id = ANY($1)")
        .bind(ids)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn answered(requests: Vec<JoinHandle<Response>>) -> Vec<Response> {
    let mut out = Vec::new();
    for r in requests {
        out.push(r.await.unwrap());
    }
    out
}

fn queued(ext: &str) -> Value {
    let mut l = lead(ext);
    l["owner"] = Value::Null;
    l["queue"] = json!("emea");
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn round_robin_leads_committed_as_one_group_take_an_exact_rotation() {
    let app = spawn_app().await;
    let admin = &app.admin;
    let res = app
        .request(
            reqwest::Method::PUT,
            "/v1/queues/emea",
            admin,
            Some(&json!({"strategy": "round_robin"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    for rep in ["a", "b", "c"] {
        let body = json!({"queues": ["emea"]});
        let res = app
            .request(
                reqwest::Method::PUT,
                &format!("/v1/reps/{rep}"),
                admin,
                Some(&body),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let token = app.key(Role::Ingest, None).await;
    let (lock, leaders) = hold_the_groups(&app, &token, queued).await;
    let ids: Vec<String> = (0..30).map(|i| format!("g-{i}")).collect();
    let group: Vec<_> = ids
        .iter()
        .map(|e| send(&app, &token, queued(e), None))
        .collect();
    wait_for_group(&app, ids.len()).await;
    lock.commit().await.unwrap();
    for res in answered(leaders.into_iter().chain(group).collect()).await {
        assert_eq!(res.status(), 201);
    }
    assert_eq!(commits_of(&app, &ids).await, 1, "the 30 were one commit");
    // The 30 grouped leads took 30 consecutive turns: 10 each, whatever the leaders took.
    let owners: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT owner, count(*) FROM leads WHERE external_id = ANY($1) GROUP BY owner ORDER BY owner",
    )
    .bind(&ids)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let ten = |r: &str| (Some(r.to_string()), 10);
    assert_eq!(owners, [ten("a"), ten("b"), ten("c")]);
    let notes: Vec<Value> = sqlx::query_scalar(
        "SELECT h.data FROM lead_history h JOIN leads l ON l.id = h.lead_id \
         WHERE l.external_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(notes.len(), 30);
    assert!(notes.iter().all(|d| d["assigned_by"] == "round_robin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lead_that_fails_in_a_group_fails_alone_and_the_others_are_stored() {
    let app = spawn_app().await;
    // A rule of this test's database that one lead of the group breaks.
    sqlx::query(
        "ALTER TABLE leads ADD CONSTRAINT test_refused \
         CHECK (email IS DISTINCT FROM 'refused@example.com')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let token = app.key(Role::Ingest, None).await;
    // An Idempotency-Key used before, sent again with another lead: refused as always.
    assert_eq!(
        send(&app, &token, lead("k-1"), Some("key-1"))
            .await
            .unwrap()
            .status(),
        201
    );
    let (lock, leaders) = hold_the_groups(&app, &token, lead).await;
    let ids: Vec<String> = (0..10).map(|i| format!("g-{i}")).collect();
    let good: Vec<_> = ids
        .iter()
        .map(|e| send(&app, &token, lead(e), None))
        .collect();
    let mut refused = lead("bad-1");
    refused["email"] = json!("refused@example.com");
    let bad = send(&app, &token, refused, None);
    let reused = send(&app, &token, lead("k-2"), Some("key-1"));
    wait_for_group(&app, ids.len() + 1).await;
    lock.commit().await.unwrap();
    for res in answered(leaders.into_iter().chain(good).collect()).await {
        assert_eq!(res.status(), 201);
    }
    problem(bad.await.unwrap(), 500, "internal").await;
    problem(reused.await.unwrap(), 422, "idempotency_key_reused").await;
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads l JOIN lead_history h ON h.lead_id = l.id \
         WHERE l.external_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 10, "each good lead with its one history row");
    let bad_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM leads WHERE external_id IN ('bad-1', 'k-2')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(bad_rows, 0);
    assert_eq!(app.count("leads").await, 1 + MAX_IN_FLIGHT as i64 + 10);
    assert_eq!(app.count("lead_history").await, app.count("leads").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lead_sent_twice_in_one_group_is_created_once_and_the_other_answer_is_the_stored_lead() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let stored = app.ingest(&lead("old-1")).await;
    let (lock, leaders) = hold_the_groups(&app, &token, lead).await;
    let ids: Vec<String> = (0..5).map(|i| format!("g-{i}")).collect();
    let others: Vec<_> = ids
        .iter()
        .map(|e| send(&app, &token, lead(e), None))
        .collect();
    let twice = [
        send(&app, &token, lead("dup-1"), None),
        send(&app, &token, lead("dup-1"), None),
    ];
    let again = send(&app, &token, lead("old-1"), None);
    wait_for_group(&app, ids.len() + 3).await;
    lock.commit().await.unwrap();
    for res in answered(leaders.into_iter().chain(others).collect()).await {
        assert_eq!(res.status(), 201);
    }
    assert_eq!(commits_of(&app, &ids).await, 1, "the five were one commit");
    let mut dup = Vec::new();
    for r in answered(twice.into()).await {
        let status = r.status().as_u16();
        dup.push((status, r.json::<Value>().await.unwrap()));
    }
    dup.sort_by_key(|(s, _)| *s);
    assert_eq!((dup[0].0, dup[1].0), (200, 201), "{dup:?}");
    // The 200 is the lead the other created, as it is read back.
    let id = dup[1].1["id"].as_str().unwrap();
    assert_eq!(dup[0].1, app.lead(id).await);
    assert_eq!(dup[1].1, app.lead(id).await);
    let res = again.await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), stored);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM leads WHERE external_id = 'dup-1'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(app.count("lead_history").await, app.count("leads").await);
}

/// Makes every insert of a lead whose external id starts with `lead-` wait for advisory lock 1
/// and every one starting with `g-` for lock 2 (a trigger of this test's database), and takes
/// both locks on a connection of its own.
async fn two_gates(app: &TestApp) -> sqlx::pool::PoolConnection<Postgres> {
    for sql in [
        "CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.external_id LIKE 'lead-%' THEN PERFORM pg_advisory_xact_lock_shared(1); \
           ELSIF NEW.external_id LIKE 'g-%' THEN PERFORM pg_advisory_xact_lock_shared(2); \
           END IF; RETURN NEW; END $$",
        "CREATE TRIGGER test_gate BEFORE INSERT ON leads FOR EACH ROW EXECUTE FUNCTION test_gate()",
    ] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    let mut gates = app.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(1), pg_advisory_lock(2)")
        .execute(&mut *gates)
        .await
        .unwrap();
    gates
}

async fn open_gate(gates: &mut sqlx::PgConnection, n: i32) {
    // `bigint` on both sides: an `int4` bind against the bigint overload was once read as 8
    // bytes by the server ("insufficient data left in message").
    sqlx::query("SELECT pg_advisory_unlock($1::bigint)")
        .bind(i64::from(n))
        .execute(gates)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_that_leave_mid_group_leave_their_lead_whole_or_absent_and_the_others_stored() {
    let app = spawn_app().await;
    let token = app.key(Role::Ingest, None).await;
    let mut gates = two_gates(&app).await;
    // Both group tasks busy with one lead each (gate 1); nine leads wait for a group.
    let mut leaders = Vec::new();
    for i in 0..MAX_IN_FLIGHT {
        leaders.push(send(&app, &token, lead(&format!("lead-{i}")), None));
        wait_for_blocked_inserts(&app, i + 1).await;
    }
    let ids: Vec<String> = (0..9).map(|i| format!("g-{i}")).collect();
    let mut group: Vec<_> = ids
        .iter()
        .map(|e| send(&app, &token, lead(e), None))
        .collect();
    wait_for_group(&app, ids.len()).await;
    // The leaders commit; the nine go as one group, whose statement waits at gate 2.
    open_gate(&mut gates, 1).await;
    wait_for_blocked(&app, 1, "WITH input AS%").await;
    assert_eq!(app.group_commit.waiting(), 0);
    // Clients leave: two of the group in flight, and the leaders (whatever they got).
    let leaving = [group.remove(0), group.remove(0)];
    for r in leaving.iter().chain(&leaders) {
        r.abort();
    }
    open_gate(&mut gates, 2).await;
    for res in answered(group).await {
        assert_eq!(res.status(), 201);
    }
    for ext in ["lead-0", "lead-1", "g-0", "g-1"] {
        let found: (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM leads WHERE external_id = $1), \
             (SELECT count(*) FROM lead_history h JOIN leads l ON l.id = h.lead_id \
              WHERE l.external_id = $1)",
        )
        .bind(ext)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(found == (1, 1) || found == (0, 0), "{ext}: {found:?}");
    }
    let stored: Vec<String> = ids[2..].to_vec();
    assert_eq!(
        commits_of(&app, &stored).await,
        1,
        "the seven were one commit"
    );
    assert_eq!(app.count("lead_history").await, app.count("leads").await);
}
