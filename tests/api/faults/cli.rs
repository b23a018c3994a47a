//! The operator's side of the binary (docs/api.md §8): `keys create` prints the token alone on its last
//! line, `migrate` builds the schema, the first start prints an admin key once, SIGTERM lets
//! an in-flight request finish before the service exits, and `db start`/`db stop` run a cluster
//! for tools.

use std::{process::Output, time::Duration};

use salgate::domain::Role;
use sqlx::{Connection, PgConnection, PgPool};

use super::{cluster_dir, free_port, wait_ready, Service};
use crate::helpers::{empty_database, fresh_database, lead};

fn salgate(url: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_salgate"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("SALGATE_CONFIG")
        .env("SALGATE_LOG", "error")
        .output()
        .expect("run the salgate binary")
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn keys_create_prints_only_the_token_on_its_last_line_and_the_token_works() {
    let url = fresh_database().await;
    let out = salgate(
        &url,
        &[
            "keys", "create", "--role", "sdr", "--rep", "rep-1", "--name", "ada",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().expect("a last line");
    assert!(
        token.len() >= 32 && !token.contains(char::is_whitespace),
        "the last line is the token alone: {stdout:?}"
    );
    assert_eq!(stdout.matches(token).count(), 1, "printed once: {stdout:?}");

    let pool = PgPool::connect(&url).await.unwrap();
    let key: (String, String, Option<String>) =
        sqlx::query_as("SELECT name, role, rep_id FROM api_keys")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(key, ("ada".into(), "sdr".into(), Some("rep-1".into())));

    // An sdr key without its rep is refused, and nothing is stored.
    let out = salgate(&url, &["keys", "create", "--role", "sdr"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rep"));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM api_keys").await, 1);

    let client = reqwest::Client::new();
    let service = Service::start(&url, free_port(), &[]);
    wait_ready(&client, &service.base).await;
    let list = client
        .get(format!("{}/v1/leads", service.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "the token authenticates");
    let ingest = client
        .post(format!("{}/v1/leads", service.base))
        .bearer_auth(token)
        .json(&lead("cli-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(ingest.status(), 403, "…as the sdr it was made for");
}

#[tokio::test]
async fn migrate_builds_the_schema_on_an_empty_database_and_a_second_run_changes_nothing() {
    let url = empty_database().await;
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("sql".as_ref()))
        .count() as i64;
    for run in ["first", "second"] {
        let out = salgate(&url, &["migrate"]);
        assert!(
            out.status.success(),
            "{run} run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pool = PgPool::connect(&url).await.unwrap();
        let applied = "SELECT count(*) FROM _sqlx_migrations WHERE success";
        assert_eq!(scalar(&pool, applied).await, migrations, "{run} run");
        let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' \
                      AND tablename IN ('leads', 'lead_history', 'api_keys')";
        assert_eq!(scalar(&pool, tables).await, 3, "{run} run");
        pool.close().await;
    }
}

/// Starts `salgate serve` on `url` with its stdout in a file; returns it and what it printed
/// once it is ready.
async fn serve_and_read_stdout(url: &str) -> (Service, String) {
    let file = tempfile::NamedTempFile::new().unwrap();
    let service = Service::start_with_stdout(url, free_port(), file.reopen().unwrap());
    wait_ready(&reqwest::Client::new(), &service.base).await;
    // The key is printed before the listener serves, so it is in the file by now.
    let stdout = std::fs::read_to_string(file.path()).unwrap();
    (service, stdout)
}

#[tokio::test]
async fn the_first_start_prints_an_admin_key_and_an_admin_sign_in_link_once_and_a_restart_prints_none(
) {
    let url = fresh_database().await;
    let (mut first, stdout) = serve_and_read_stdout(&url).await;
    let line_after = |marker: &str| {
        let mut lines = stdout.lines().skip_while(|l| !l.contains(marker));
        lines
            .nth(1)
            .unwrap_or_else(|| panic!("no line after {marker:?}: {stdout:?}"))
    };
    let token = line_after("no API keys existed");
    assert!(
        token.starts_with("sg_") && !token.contains(char::is_whitespace),
        "{stdout:?}"
    );
    let link = line_after("sign in to the pages as admin");
    let expected = format!("{}/app/login/sl_", first.base);
    assert!(
        link.starts_with(&expected),
        "{link} does not start with {expected}"
    );
    let client = reqwest::Client::new();
    let keys = client
        .get(format!("{}/v1/api-keys", first.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), 200, "the printed key is an admin key");
    let page = client.get(link).send().await.unwrap();
    assert_eq!(
        page.status(),
        200,
        "the printed link opens its sign-in page"
    );
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("signs you in as <strong>admin</strong>"));
    first.kill();

    let (_second, again) = serve_and_read_stdout(&url).await;
    assert!(!again.contains(token), "the key is shown only once");
    assert_eq!(
        again.trim(),
        "",
        "a restart prints no key and no link: {again:?}"
    );
    let pool = PgPool::connect(&url).await.unwrap();
    assert_eq!(scalar(&pool, "SELECT count(*) FROM api_keys").await, 1);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM sign_in_links").await, 1);
}

/// Polls (at most 10 s) until `ready` holds.
async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_an_in_flight_request_finish_then_the_service_exits_cleanly() {
    let url = fresh_database().await;
    let pool = PgPool::connect(&url).await.unwrap();
    let (_, token) =
        salgate::db::api_keys::create(&pool, Role::Ingest, None, "drain", chrono::Utc::now())
            .await
            .unwrap();
    let port = free_port();
    let mut service = Service::start(&url, port, &[]);
    let client = reqwest::Client::new();
    wait_ready(&client, &service.base).await;

    // Hold the ingest in flight: it waits on a lock the test holds on `leads`.
    let mut blocker = PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE leads IN SHARE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let in_flight = tokio::spawn({
        let (client, base) = (client.clone(), service.base.clone());
        async move {
            let res = client
                .post(format!("{base}/v1/leads"))
                .bearer_auth(token)
                .json(&lead("drain-1"))
                .send()
                .await;
            res.map(|r| r.status().as_u16())
        }
    });
    let waiting =
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'leads'::regclass";
    eventually("the ingest waits on the lock", async || {
        scalar(&pool, waiting).await > 0
    })
    .await;

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(service.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // Draining: the listener is closed to new connections…
    eventually("new connections are refused", async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    })
    .await;
    assert!(service.is_running(), "…but the in-flight request holds it");
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let status = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the in-flight request is answered")
        .unwrap();
    assert_eq!(status.ok(), Some(201), "{}", service.errors());
    let exit = service.exit_within(Duration::from_secs(10)).await;
    assert!(
        exit.is_some_and(|s| s.success()),
        "exits cleanly within 10 s: {exit:?} {}",
        service.errors()
    );
    let stored = "SELECT count(*) FROM leads WHERE external_id = 'drain-1'";
    assert_eq!(scalar(&pool, stored).await, 1);
}

/// `salgate db …`, with no database configured.
fn salgate_db(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_salgate"))
        .arg("db")
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SALGATE_CONFIG")
        .env("SALGATE_LOG", "error")
        .output()
        .expect("run the salgate binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let said = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "salgate db {args:?}: {said}");
    stdout
}

#[tokio::test]
async fn db_start_leaves_a_cluster_running_that_its_printed_urls_reach_and_db_stop_stops_it() {
    let tmp = cluster_dir("salgate-db-cli-");
    let dir = tmp.path().join("pg").display().to_string();
    let start = [
        "start",
        "--dir",
        &dir,
        "--database",
        "bench",
        "--set",
        "work_mem=8MB",
    ];
    let stdout = salgate_db(&start);
    let printed: std::collections::HashMap<&str, &str> =
        stdout.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(
        printed.len(),
        4,
        "port, cluster_dir, admin_url, app_url: {stdout}"
    );
    assert_eq!(
        printed.len(),
        stdout.lines().count(),
        "only key=value lines: {stdout}"
    );

    // The command has exited; the cluster runs on, with the setting asked for.
    let app = PgPool::connect(printed["app_url"]).await.unwrap();
    let who: (String, String, bool, String) = sqlx::query_as(
        "SELECT current_user::text, current_database()::text, rolsuper, current_setting('work_mem') \
         FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&app)
    .await
    .unwrap();
    assert_eq!(who, ("salgate".into(), "bench".into(), false, "8MB".into()));
    app.close().await;
    let admin = PgPool::connect(printed["admin_url"]).await.unwrap();
    let superuser = "SELECT count(*) FROM pg_roles WHERE rolname = current_user AND rolsuper";
    assert_eq!(scalar(&admin, superuser).await, 1);
    admin.close().await;

    // Started again, it attaches to the running cluster.
    let again = salgate_db(&start);
    assert!(
        again.contains(&format!("port={}", printed["port"])),
        "{again}"
    );

    let stopped = salgate_db(&["stop", "--dir", &dir]);
    assert_eq!(stopped.trim(), "stopped");
    let port: u16 = printed["port"].parse().unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on {port} after db stop"
    );
    let again = salgate_db(&["stop", "--dir", &dir]);
    assert_eq!(again.trim(), "not running");
}
