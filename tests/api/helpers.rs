//! Test harness: one throwaway PostgreSQL cluster per test run (started from the machine's
//! PostgreSQL binaries, removed when the run ends), a fresh database per test cloned from a
//! migrated template, and the real application on a random port.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use reqwest::{Method, Response};
use salgate::{
    clock::{Clock, ManualClock, SystemClock},
    config::Settings,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres, APP_ROLE},
    },
    domain::Role,
    service::{group_commit::GroupCommit, judge::GroupJudge},
    startup::Application,
};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

const TEMPLATE: &str = "salgate_template";

fn cluster() -> &'static EmbeddedPostgres {
    static CLUSTER: OnceLock<EmbeddedPostgres> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("salgate-test-{}", std::process::id()));
        let pg = EmbeddedPostgres::start(EmbeddedOptions {
            dir,
            ephemeral: true,
            database: TEMPLATE.into(),
            max_connections: 400,
            port: None,
        })
        .expect("start the test PostgreSQL cluster (is the `postgresql` package installed?)");
        // Migrate the template once, on a runtime of its own: each test has its own runtime.
        let url = pg.database_url();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let pool = db::connect(&url, 1).await.expect("connect to template");
                    db::migrate(&pool).await.expect("migrate template");
                    pool.close().await;
                })
        })
        .join()
        .expect("template migration");
        pg
    })
}

/// A fresh, migrated database; returns its URL.
pub async fn fresh_database() -> String {
    let pg = cluster();
    let name = format!("t_{}", uuid::Uuid::now_v7().simple());
    // The service's role may not create databases: the harness does it as the cluster's admin,
    // and gives the database to the service's role as the service's own start does.
    let mut conn = PgConnection::connect(&pg.admin_url_for("postgres"))
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE DATABASE {name} TEMPLATE {TEMPLATE} OWNER {APP_ROLE}"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    pg.url_for(&name)
}

/// A fresh database with nothing in it (not even the schema); returns its URL.
pub async fn empty_database() -> String {
    let pg = cluster();
    let name = format!("e_{}", uuid::Uuid::now_v7().simple());
    let mut conn = PgConnection::connect(&pg.admin_url_for("postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name} OWNER {APP_ROLE}"))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    pg.url_for(&name)
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    /// The admin token the application created on its first start.
    pub admin: String,
    pub clock: ManualClock,
    /// The database, for a second replica on it ([`spawn_replica`]).
    pub database_url: String,
    /// The one-lead ingests' group commit (its queue shows when a group has formed).
    pub group_commit: Arc<GroupCommit>,
    /// The one-lead ingests' grouped judgements (its queue shows when a group has formed).
    pub group_judge: Arc<GroupJudge>,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn now_micros() -> DateTime<Utc> {
    SystemClock.now()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `spawn_app` with settings adjusted by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_on(fresh_database().await, None, Jobs::Off, configure).await
}

/// `spawn_app_with`, and the app runs its periodic jobs (scanner, webhook dispatcher,
/// compactor, purge) on their configured intervals, as the service does.
pub async fn spawn_app_with_jobs(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_on(fresh_database().await, None, Jobs::On, configure).await
}

/// Another replica of `app`: its own application (caches, clock) on the same database.
pub async fn spawn_replica(app: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let admin = Some(app.admin.clone());
    spawn_on(app.database_url.clone(), admin, Jobs::Off, configure).await
}

/// Whether a test app runs its periodic jobs. Off by default: tests drive each job themselves
/// on the manual clock, and one in the background would race them (and count with them).
#[derive(PartialEq)]
enum Jobs {
    On,
    Off,
}

async fn spawn_on(
    url: String,
    admin: Option<String>,
    jobs: Jobs,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    // Server-side errors show in a failing test's output.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("error")
        .try_init();
    let mut settings = Settings::load().expect("default settings");
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.database_url = Some(url.clone());
    settings.database_max_connections = 20;
    // Webhook tests post to receivers on 127.0.0.1 over http.
    settings.webhook_allow_private_networks = true;
    configure(&mut settings);
    let clock = ManualClock::new(now_micros());
    let mut app = Application::build(settings, Arc::new(clock.clone()))
        .await
        .expect("build application");
    if jobs == Jobs::Off {
        app = app.without_periodic_jobs();
    }
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool();
    let group_commit = app.group_commit();
    let group_judge = app.group_judge();
    let admin = admin
        .or_else(|| app.bootstrap_admin_token.clone())
        .expect("first start creates an admin key");
    if app.bootstrap_sign_in_link.is_some() {
        // The first start's admin link (checked in faults/cli.rs): tests start with no links.
        sqlx::query("DELETE FROM sign_in_links WHERE created_by = 'bootstrap'")
            .execute(&pool)
            .await
            .expect("remove the first start's sign-in link");
    }
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        pool,
        admin,
        clock,
        database_url: url,
        group_commit,
        group_judge,
        shutdown,
    }
}

/// A minimal valid lead.
pub fn lead(external_id: &str) -> Value {
    json!({
        "source": "hubspot",
        "external_id": external_id,
        "lead_type": "demo_request",
        "email": "ada@example.com",
        "first_name": "Ada",
        "company": {"name": "Analytical Engines", "domain": "example.com", "size": 40},
        "owner": "rep-1",
        "queue": "emea"
    })
}

impl TestApp {
    /// Compacts every marked hour before two days after the app's clock (the service's
    /// compactor, run here once to the end); returns how many hours it built.
    pub async fn compact(&self) -> i64 {
        let ahead = ManualClock::new(self.clock.now() + chrono::Duration::days(2));
        salgate::jobs::cycle_compactor::CycleCompactor::new(self.pool.clone(), Arc::new(ahead))
            .drain(&Default::default())
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    /// Creates an API key directly in the database.
    pub async fn key(&self, role: Role, rep: Option<&str>) -> String {
        db::api_keys::create(&self.pool, role, rep, "test", now_micros())
            .await
            .unwrap()
            .1
    }

    /// Ingests `body` with a fresh ingest key and returns the lead JSON.
    pub async fn ingest(&self, body: &Value) -> Value {
        let token = self.key(Role::Ingest, None).await;
        let res = self.post("/v1/leads", &token, body).await;
        assert!(res.status().is_success(), "ingest failed: {}", res.status());
        res.json().await.unwrap()
    }

    pub async fn decide(&self, id: &str, action: &str, token: &str, body: &Value) -> Response {
        self.post(&format!("/v1/leads/{id}/{action}"), token, body)
            .await
    }

    pub async fn lead(&self, id: &str) -> Value {
        self.get(&format!("/v1/leads/{id}"), &self.admin)
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn history(&self, id: &str) -> Vec<Value> {
        let v: Value = self
            .get(&format!("/v1/leads/{id}/history"), &self.admin)
            .await
            .json()
            .await
            .unwrap();
        v["items"].as_array().unwrap().clone()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "problems are problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// The fields a validation problem names.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Drains each scanner in a task of its own, so that on a multi-thread runtime they run in
/// parallel (`join!` would poll them in turn on one thread); their counts, in order.
pub async fn drain_in_parallel(
    scanners: Vec<salgate::jobs::sla_scanner::SlaScanner>,
) -> Vec<salgate::db::sla::ScanCounts> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let tasks: Vec<_> = scanners
        .into_iter()
        .map(|s| {
            let cancel = cancel.clone();
            tokio::spawn(async move { s.drain(&cancel).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for t in tasks {
        counts.push(t.await.unwrap());
    }
    counts
}
