//! Faults with the real binary: the service SIGKILLed under ingest load and started again.
//! Every lead that got a 2xx is stored, none twice.

use std::{
    collections::HashSet,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use salgate::domain::Role;

use crate::helpers::{fresh_database, lead};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_salgate"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("SALGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("SALGATE_LOG", "error")
        .env("SALGATE_RATE_LIMIT_PER_SECOND", "0")
        .env_remove("SALGATE_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the salgate binary")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("salgate did not become ready");
}

#[tokio::test]
async fn a_service_killed_under_load_loses_no_acknowledged_lead_and_stores_none_twice() {
    let url = fresh_database().await;
    let pool = salgate::db::connect(&url, 2).await.unwrap();
    let (_, token) =
        salgate::db::api_keys::create(&pool, Role::Ingest, None, "fault", chrono::Utc::now())
            .await
            .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut child = start(&url, port);
    wait_ready(&client, &base).await;

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            let (acknowledged, sent, stop) = (acknowledged.clone(), sent.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let ext = format!("kill-{w}-{i}");
                    i += 1;
                    *sent.lock().unwrap() += 1;
                    let res = client
                        .post(format!("{base}/v1/leads"))
                        .bearer_auth(&token)
                        .json(&lead(&ext))
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => acknowledged.lock().unwrap().push(ext),
                        // Refused connections while the service is down: back off a little.
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
            })
        })
        .collect();

    // Kill it twice while the load runs, starting it again each time.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        child = start(&url, port);
        wait_ready(&client, &base).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let acknowledged = acknowledged.lock().unwrap().clone();
    let stored: Vec<(String,)> =
        sqlx::query_as("SELECT external_id FROM leads WHERE source = 'hubspot'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let stored_ids: HashSet<&str> = stored.iter().map(|(e,)| e.as_str()).collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|e| !stored_ids.contains(e.as_str()))
        .collect();
    let sent = *sent.lock().unwrap();
    eprintln!(
        "sent {sent}, acknowledged {}, stored {}",
        acknowledged.len(),
        stored.len()
    );
    assert!(acknowledged.len() > 100, "the load ran");
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    // (source, external_id) is unique, so "twice" shows as a second `routed` entry: each
    // stored lead has exactly one.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads l WHERE source = 'hubspot' AND \
         (SELECT count(*) FROM lead_history h WHERE h.lead_id = l.id) <> 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
}
