//! The service SIGKILLed under ingest load and started again: every lead that got a 2xx is
//! stored, none twice.

use std::{
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use salgate::domain::Role;

use super::{assert_acknowledged_stored_once, free_port, wait_ready, Load, Service};
use crate::helpers::fresh_database;

#[tokio::test]
async fn a_service_killed_under_load_loses_no_acknowledged_lead_and_stores_none_twice() {
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
    let (tally, workers) =
        Load::on(std::slice::from_ref(&base), &token, "kill", 8).start(&client, &stop);

    // Kill it twice while the load runs, starting it again each time.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(service.pid()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        service.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        service = Service::start(&url, port, &[]);
        wait_ready(&client, &base).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    service.kill();

    let tally = tally.lock().unwrap().clone();
    let stored = assert_acknowledged_stored_once(&pool, "kill", &tally.acknowledged).await;
    eprintln!(
        "kill: sent {}, acknowledged {}, refused {:?}, no response {}, stored {stored}",
        tally.sent,
        tally.acknowledged.len(),
        tally.refused,
        tally.no_response
    );
    assert!(tally.acknowledged.len() > 100, "the load ran");
}
