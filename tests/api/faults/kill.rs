//! The service SIGKILLed under ingest load and started again: every lead that got a 2xx is
//! stored; every lead that did not, sent again (with its `Idempotency-Key` if it had one) as a
//! client would, gets a 2xx; none is stored twice. Eight clients keep both group-commit tasks
//! busy, so most leads are committed in groups (src/service/group_commit.rs); the test checks
//! that some were, so a kill lands while groups are in flight.

use std::{
    sync::{atomic::AtomicBool, Arc, Mutex},
    time::Duration,
};

use salgate::domain::Role;

use super::{
    assert_acknowledged_stored_once, free_port, post_lead, wait_ready, Load, Service, Tally,
};
use crate::helpers::fresh_database;

#[tokio::test]
async fn a_service_killed_under_load_loses_no_acknowledged_lead_and_stores_none_twice() {
    killed_under_load(false).await;
}

/// As above, every other lead with an `Idempotency-Key`: a key whose holder was killed must not
/// stay in flight (409) for its 24 h.
#[tokio::test]
async fn keyed_leads_sent_again_after_a_kill_get_a_2xx_and_are_stored_once() {
    killed_under_load(true).await;
}

async fn killed_under_load(keyed: bool) {
    let url = fresh_database().await;
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let (_, token) =
        salgate::db::api_keys::create(&pool, Role::Ingest, None, "fault", chrono::Utc::now())
            .await
            .unwrap();
    let port = free_port();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut service = Service::start(&url, port, &[]);
    let base = service.base.clone();
    wait_ready(&client, &base).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (tally, workers) = Load {
        keyed,
        ..Load::on(std::slice::from_ref(&base), &token, "kill", 8)
    }
    .start(&client, &stop);

    // Kill it twice while the load runs (each time once 100 more leads got a 2xx), and start it
    // again once every worker has seen it gone.
    for _ in 0..2 {
        let acked = tally.lock().unwrap().acknowledged.len();
        until(&tally, "100 more acknowledged", |t| {
            t.acknowledged.len() >= acked + 100
        })
        .await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(service.pid()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        service.kill();
        let failed = tally.lock().unwrap().no_response;
        until(&tally, "8 more without response", |t| {
            t.no_response >= failed + 8
        })
        .await;
        service = Service::start(&url, port, &[]);
        wait_ready(&client, &base).await;
    }
    let acked = tally.lock().unwrap().acknowledged.len();
    until(&tally, "100 more acknowledged", |t| {
        t.acknowledged.len() >= acked + 100
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let mut tally = tally.lock().unwrap().clone();
    let retried = tally.unacknowledged.len();
    let stored_before = stored_of(&pool, &tally.unacknowledged).await;
    // Ten acknowledged leads sent again too (their 2xx "lost"): the retries then always include
    // stored leads, even in a run where no killed request had committed.
    let again: Vec<_> = (tally.acknowledged.iter().take(10))
        .map(|e| (e.clone(), None))
        .collect();
    tally.unacknowledged.extend(again);
    retry_unacknowledged(&client, &base, &token, &mut tally).await;
    service.kill();

    eprintln!(
        "kill: sent {}, refused {:?}, no response {}, retried {retried} ({stored_before} of them \
         stored already, {} keyed)",
        tally.sent,
        tally.refused,
        tally.no_response,
        tally
            .unacknowledged
            .iter()
            .filter(|(_, k)| k.is_some())
            .count(),
    );
    let stored = assert_acknowledged_stored_once(&pool, "kill", &tally.acknowledged).await;
    assert_eq!(
        stored,
        tally.acknowledged.len(),
        "only acknowledged leads are stored"
    );
    let grouped: i64 = sqlx::query_scalar(
        "SELECT count(*) - count(DISTINCT xmin::text) FROM leads WHERE source = 'hubspot'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!("kill: {grouped} leads shared a commit with an earlier one");
    assert!(grouped > 0, "no two leads were committed together");
}

/// Sends each unacknowledged lead again, as its client would, until it gets a 2xx; on a 2xx it
/// moves to `acknowledged`. An answer that is no 2xx in time fails the test. A key its killed
/// holder left in flight must become free again (its lease runs out after 30 s), hence the
/// deadline.
async fn retry_unacknowledged(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    tally: &mut Tally,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    for (ext, key) in &tally.unacknowledged {
        let body = crate::helpers::lead(ext);
        let last = loop {
            let res = post_lead(client, base, token, &body, key.as_deref()).await;
            let last = match res {
                Ok(r) if r.status().is_success() => break None,
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() >= deadline {
                break Some(last);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(last, None, "{ext} (key {key:?}) sent again got no 2xx");
        if !tally.acknowledged.contains(ext) {
            tally.acknowledged.push(ext.clone());
        }
    }
}

/// Polls (at most 30 s) until the load's tally satisfies `done`.
async fn until(tally: &Mutex<Tally>, what: &str, done: impl Fn(&Tally) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(&tally.lock().unwrap()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load never got {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many of `leads` are stored.
async fn stored_of(pool: &sqlx::PgPool, leads: &[(String, Option<String>)]) -> i64 {
    let ids: Vec<&str> = leads.iter().map(|(e, _)| e.as_str()).collect();
    sqlx::query_scalar(
        "SELECT count(*) FROM leads WHERE source = 'hubspot' AND external_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(pool)
    .await
    .unwrap()
}
