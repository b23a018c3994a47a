//! The embedded cluster's postgres SIGKILLed under ingest load (the OOM killer's way): the
//! service stays up, starts the cluster again by itself, becomes ready, and every lead that
//! got a 2xx is still stored, none twice.

use std::{
    path::Path,
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use salgate::{
    db::embedded::{EmbeddedOptions, EmbeddedPostgres},
    domain::Role,
};

use super::{
    assert_acknowledged_stored_once, assert_only_unavailable, cluster_dir, free_port, metrics_page,
    sample, wait_ready, Load, Service,
};

/// The postmaster's pid and port, from the pid file of the cluster under `data_dir`.
fn postmaster(data_dir: &Path) -> Option<(i32, u16)> {
    let pid_file = data_dir.join("postgres/pgdata/postmaster.pid");
    let text = std::fs::read_to_string(pid_file).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let port = lines.nth(2)?.trim().parse().ok()?;
    Some((pid, port))
}

#[tokio::test]
async fn an_embedded_postgres_killed_under_load_is_started_again_and_loses_no_acknowledged_lead() {
    let tmp = cluster_dir("salgate-embedded-crash-");
    let dir = tmp.path().to_path_buf();
    let port = free_port();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut service = Service::start_embedded(&dir, port);
    let base = service.base.clone();
    wait_ready(&client, &base).await;
    let (pid, pg_port) = postmaster(&dir).expect("the service runs a cluster under its data dir");
    // Attached as `salgate keys create` would: the password is in the cluster's own file.
    let attached = tokio::task::spawn_blocking({
        let dir = dir.join("postgres");
        move || {
            EmbeddedPostgres::start(EmbeddedOptions {
                dir,
                ephemeral: false,
                database: "salgate".into(),
                max_connections: 100,
                port: None,
            })
        }
    })
    .await
    .unwrap()
    .expect("attach to the service's cluster");
    assert!(!attached.is_owned());
    assert_eq!(attached.port(), pg_port);
    let url = attached.database_url();
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let (_, token) =
        salgate::db::api_keys::create(&pool, Role::Ingest, None, "fault", chrono::Utc::now())
            .await
            .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let (tally, workers) =
        Load::on(std::slice::from_ref(&base), &token, "crash", 4).start(&client, &stop);
    tokio::time::sleep(Duration::from_millis(700)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    // Unready while it is down, then ready again with no one restarting anything.
    // Probes start every 20 ms without waiting for each other, each with a 1 s timeout as an
    // orchestrator's probe has: while the cluster is down a probe either gets 503 (a dead
    // pooled connection) or waits on the reconnect past its timeout; either is "not ready".
    // (Waited out, a probe would answer 200 once a fast restart is done.)
    let mut probes = Vec::new();
    for _ in 0..100 {
        let (client, url) = (client.clone(), format!("{base}/readyz"));
        probes.push(tokio::spawn(async move {
            let probe = client.get(url).timeout(Duration::from_secs(1)).send().await;
            !matches!(probe, Ok(r) if r.status() == 200)
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut saw_unready = false;
    for p in probes {
        saw_unready |= p.await.unwrap();
    }
    wait_ready(&client, &base).await;
    let (new_pid, new_port) = postmaster(&dir).expect("a cluster runs again");
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(
        service.is_running(),
        "the service exited: {}",
        service.errors()
    );

    let restarts = sample(
        &metrics_page(&client, &base).await,
        "salgate_embedded_postgres_restarts_total",
    );

    // This pool's connection died with the old postmaster (a connection used within the last
    // 10 s is not tested before use, so it would fail one query): a new pool, same URL.
    pool.close().await;
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let tally = tally.lock().unwrap().clone();
    let stored = assert_acknowledged_stored_once(&pool, "crash", &tally.acknowledged).await;
    eprintln!(
        "embedded crash: sent {}, acknowledged {}, refused {:?}, no response {}, stored {stored}",
        tally.sent,
        tally.acknowledged.len(),
        tally.refusals,
        tally.no_response
    );
    pool.close().await;
    service.kill();

    assert!(saw_unready, "/readyz never reported the database down");
    assert_ne!(new_pid, pid, "the postmaster was not started again");
    assert_eq!(new_port, pg_port, "the cluster moved to another port");
    assert_eq!(restarts, Some(1.0), "restart counter");
    assert!(!tally.acknowledged.is_empty(), "no lead was acknowledged");
    assert_only_unavailable(&tally, &service.errors());

    // The killed service's watchdog stops the cluster; let it finish before the dir goes.
    for _ in 0..200 {
        if postmaster(&dir).is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
