//! Failover under ingest load: a primary with one synchronous standby (`synchronous_commit=on`),
//! the service given both hosts in `DATABASE_URL`; the primary's postmaster is SIGKILLed and
//! the standby promoted. The service moves to the new primary by itself, every lead that got
//! a 2xx is on it exactly once, and nothing was answered 500 (503 `unavailable` with
//! `Retry-After` while there was no primary).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use salgate::domain::Role;

use super::{
    assert_acknowledged_stored_once, assert_only_unavailable, free_port,
    streaming::{eventually, Node},
    wait_ready, Load, Service,
};

#[tokio::test]
async fn a_promoted_standby_takes_over_without_losing_an_acknowledged_lead() {
    let mut primary = Node::primary(true).await;
    let standby = Node::standby_of(&primary).await;
    let url = format!(
        "postgres://postgres@{},{}/salgate?target_session_attrs=read-write",
        primary.host(),
        standby.host()
    );
    let mut service = Service::start(&url, free_port(), &[]);
    let base = service.base.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    wait_ready(&client, &base).await;
    let token = {
        let pool = salgate::db::connect(&primary.app_url(), 1).await.unwrap();
        let (_, token) =
            salgate::db::api_keys::create(&pool, Role::Ingest, None, "fault", chrono::Utc::now())
                .await
                .unwrap();
        pool.close().await;
        token
    };

    let stop = Arc::new(AtomicBool::new(false));
    let (tally, workers) =
        Load::on(std::slice::from_ref(&base), &token, "failover", 6).start(&client, &stop);
    eventually("50 leads acknowledged by the first primary", async || {
        tally.lock().unwrap().acknowledged.len() > 50
    })
    .await;
    primary.kill_postmaster();
    let at_kill = tally.lock().unwrap().acknowledged.len();
    // No primary at all until the promotion: ingests must be refused with 503 meanwhile.
    eventually(
        "an ingest answered 503 while there was no primary",
        async || tally.lock().unwrap().refused.contains_key(&503),
    )
    .await;
    standby.promote();
    let promoted = tally.lock().unwrap().acknowledged.len();
    eventually("ingests acknowledged by the promoted standby", async || {
        tally.lock().unwrap().acknowledged.len() > promoted + 100
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(service.is_running(), "the service exited");
    service.kill();

    let tally = tally.lock().unwrap().clone();
    let pool = salgate::db::connect(&standby.app_url(), 2).await.unwrap();
    let stored = assert_acknowledged_stored_once(&pool, "failover", &tally.acknowledged).await;
    eprintln!(
        "failover: sent {}, acknowledged {} ({at_kill} when the primary was killed, {promoted} \
         at the promotion), refused {:?}, no response {}, stored {stored}",
        tally.sent,
        tally.acknowledged.len(),
        tally.refusals,
        tally.no_response
    );
    assert_only_unavailable(&tally, &service.errors());
    assert_eq!(tally.no_response, 0, "every request got an answer");
    pool.close().await;
}
