//! PostgreSQL stopped and started again under ingest load: the service answers 503 (never 500)
//! and reports not ready while the database is away, then recovers by itself; it never exits,
//! and every lead that got a 2xx is stored, none twice.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use salgate::{
    db::embedded::{EmbeddedOptions, EmbeddedPostgres},
    domain::Role,
};

use super::{
    assert_acknowledged_stored_once, assert_only_unavailable, cluster_dir, free_port, metrics_page,
    sample, wait_ready, Load, Service,
};

async fn start_cluster(opts: &EmbeddedOptions) -> EmbeddedPostgres {
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(opts))
        .await
        .unwrap()
        .expect("start the cluster")
}

async fn stop_cluster(pg: EmbeddedPostgres) {
    tokio::task::spawn_blocking(move || pg.stop())
        .await
        .unwrap()
        .expect("stop the cluster");
}

/// Polls until `ready` says so, at most 30 s; panics naming `what` otherwise.
async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 30 s");
}

async fn database_up(client: &reqwest::Client, base: &str) -> Option<f64> {
    sample(&metrics_page(client, base).await, "salgate_database_up")
}

#[tokio::test]
async fn a_database_restart_under_load_gives_503s_then_the_service_recovers_by_itself() {
    // A cluster of its own, on a fixed port so the service's URL stays valid across the
    // restart; kept on disk (not ephemeral) so the restart finds the data.
    let dir = cluster_dir("salgate-db-restart-");
    let opts = EmbeddedOptions {
        dir: dir.path().join("pg"),
        ephemeral: false,
        database: "salgate".into(),
        max_connections: 60,
        port: Some(free_port()),
    };
    let pg = start_cluster(&opts).await;
    let url = pg.database_url();
    let port = free_port();
    let mut service = Service::start(&url, port, &[]);
    let base = service.base.clone();
    // Longer than the service's 5 s wait for a connection, so an outage shows as a response.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    wait_ready(&client, &base).await;
    let token = {
        let pool = salgate::db::connect(&url, 1).await.unwrap();
        let (_, token) =
            salgate::db::api_keys::create(&pool, Role::Ingest, None, "fault", chrono::Utc::now())
                .await
                .unwrap();
        pool.close().await;
        token
    };

    let stop = Arc::new(AtomicBool::new(false));
    let (tally, workers) =
        Load::on(std::slice::from_ref(&base), &token, "restart", 4).start(&client, &stop);
    // The load running (some leads stored) before the stop, polled rather than slept for.
    eventually("20 leads acknowledged before the stop", async || {
        tally.lock().unwrap().acknowledged.len() > 20
    })
    .await;
    let before = tally.lock().unwrap().acknowledged.len();
    stop_cluster(pg).await;

    // While the database is away: not ready, and ingests refused with 503.
    let readyz = format!("{base}/readyz");
    eventually(
        "/readyz answering 503",
        async || matches!(client.get(&readyz).send().await, Ok(r) if r.status() == 503),
    )
    .await;
    eventually("an ingest answered 503", async || {
        tally.lock().unwrap().refused.contains_key(&503)
    })
    .await;
    let during = tally.lock().unwrap().clone();
    // Metrics still answer, and say the database is down.
    assert_eq!(database_up(&client, &base).await, Some(0.0));
    assert!(
        service.is_running(),
        "the service exited while the database was away"
    );

    let pg = start_cluster(&opts).await;
    eventually(
        "/readyz answering 200 again",
        async || matches!(client.get(&readyz).send().await, Ok(r) if r.status() == 200),
    )
    .await;
    let recovered = tally.lock().unwrap().acknowledged.len();
    assert_eq!(database_up(&client, &base).await, Some(1.0));
    eventually("ingests succeeding again", async || {
        tally.lock().unwrap().acknowledged.len() > recovered + 50
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(service.is_running(), "the service exited");
    service.kill();

    let tally = tally.lock().unwrap().clone();
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let stored = assert_acknowledged_stored_once(&pool, "restart", &tally.acknowledged).await;
    eprintln!(
        "db restart: sent {}, acknowledged {} ({before} before the stop, {} by the time a 503 \
         was seen), refused {:?}, no response {}, stored {stored}",
        tally.sent,
        tally.acknowledged.len(),
        during.acknowledged.len(),
        tally.refusals,
        tally.no_response
    );
    assert_only_unavailable(&tally, &service.errors());
    assert_eq!(tally.no_response, 0, "every request got an answer");
    pool.close().await;
    stop_cluster(pg).await;
}
