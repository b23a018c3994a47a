//! Faults with the real binary, as separate processes: the service SIGKILLed under load, its
//! database stopped and started again under load, two replicas sharing one database; the CLI and
//! SIGTERM; a failover to a streaming standby and reports read on one (clusters of the
//! tests' own, `streaming`).

mod cli;
mod cli_attach;
mod db_restart;
mod embedded_crash;
mod failover;
mod kill;
mod read_replica;
mod replicas;
mod streaming;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `salgate serve` process; killed when dropped. Its error log goes to a file that a
/// failing assertion can show.
pub struct Service {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl Service {
    /// Starts the binary against `url` on `port`, with `env` on top of the test defaults.
    pub fn start(url: &str, port: u16, env: &[(&str, &str)]) -> Service {
        Service::spawn(Some(url), port, env)
    }

    /// `start`, with the service's stdout written to `stdout`.
    pub fn start_with_stdout(url: &str, port: u16, stdout: std::fs::File) -> Service {
        Service::spawn_to(Some(url), port, &[], Stdio::from(stdout))
    }

    /// Starts the binary with no `DATABASE_URL`: it runs its own cluster under `data_dir`.
    pub fn start_embedded(data_dir: &std::path::Path, port: u16) -> Service {
        let dir = data_dir.display().to_string();
        Service::spawn(None, port, &[("SALGATE_DATA_DIR", &dir)])
    }

    fn spawn(url: Option<&str>, port: u16, env: &[(&str, &str)]) -> Service {
        Service::spawn_to(url, port, env, Stdio::null())
    }

    fn spawn_to(url: Option<&str>, port: u16, env: &[(&str, &str)], stdout: Stdio) -> Service {
        let log = std::env::temp_dir().join(format!(
            "salgate-fault-{}-{}.log",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_salgate"));
        match url {
            Some(url) => command.env("DATABASE_URL", url),
            None => command.env_remove("DATABASE_URL"),
        };
        let child = command
            .arg("serve")
            .env("SALGATE_LISTEN", format!("127.0.0.1:{port}"))
            .env("SALGATE_LOG", "error")
            .env("SALGATE_RATE_LIMIT_PER_SECOND", "0")
            // Their webhook receivers are local.
            .env("SALGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
            .env_remove("SALGATE_CONFIG")
            .envs(env.iter().copied())
            .stdout(stdout)
            .stderr(file)
            .spawn()
            .expect("start the salgate binary");
        Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Whether the process is still running (it has not crashed or exited).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits (at most `within`) for the process to exit by itself; `None` if it did not.
    pub async fn exit_within(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    /// What the service logged at error level.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A directory for a cluster of a test's own, removed when dropped. As root the cluster runs as
/// `postgres`, which must be able to enter it (else the cluster would live under
/// /var/lib/salgate, and outlive the test).
pub fn cluster_dir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `GET /metrics`, which must answer 200 whatever the database does.
pub async fn metrics_page(client: &reqwest::Client, base: &str) -> String {
    let res = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200, "/metrics");
    res.text().await.unwrap()
}

/// The value of `series` (name and labels, as printed) in a Prometheus text page.
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Waits (at most 30 s) until `/readyz` answers 200.
pub async fn wait_ready(client: &reqwest::Client, base: &str) {
    // A deadline, not a count of tries: while the database is down one try can take the
    // pool's 5 s acquire timeout.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("salgate at {base} did not become ready");
}

/// What the load saw, by outcome.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub sent: usize,
    /// External ids of leads that got a 2xx.
    pub acknowledged: Vec<String>,
    /// Responses by status code other than 2xx.
    pub refused: std::collections::BTreeMap<u16, usize>,
    /// The same responses by what they carried besides their status.
    pub refusals: std::collections::BTreeMap<Refusal, usize>,
    /// Requests with no response (connection refused or reset, timeouts).
    pub no_response: usize,
    /// Leads that got no 2xx (refused or no response), with the `Idempotency-Key` they were
    /// sent with: what a client would send again.
    pub unacknowledged: Vec<(String, Option<String>)>,
}

/// A non-2xx answer: its status, problem `code` and `Retry-After` header, as sent.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Refusal {
    pub status: u16,
    pub code: Option<String>,
    pub retry_after: Option<String>,
}

impl Refusal {
    async fn of(res: reqwest::Response) -> Refusal {
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("(not text)").to_string());
        let body: Option<serde_json::Value> = res.json().await.ok();
        let code = body.and_then(|b| b["code"].as_str().map(String::from));
        Refusal {
            status,
            code,
            retry_after,
        }
    }
}

/// Every refusal the load saw is the outage's: 503, problem `unavailable`, and a
/// `Retry-After` of a whole number of seconds (at least 1). `errors` is the service's log.
pub fn assert_only_unavailable(tally: &Tally, errors: &str) {
    for refusal in tally.refusals.keys() {
        let retry_after = refusal
            .retry_after
            .as_deref()
            .and_then(|s| s.parse::<u64>().ok());
        assert!(
            refusal.status == 503
                && refusal.code.as_deref() == Some("unavailable")
                && retry_after.is_some_and(|s| s >= 1),
            "only 503 `unavailable` with a Retry-After while the database is away, got \
             {:?}; service errors:\n{errors}",
            tally.refusals
        );
    }
}

/// An ingest load: `workers` tasks sending distinct leads (`body("{prefix}-{worker}-{n}")`)
/// in a loop, spread over `bases`, until stopped or each has sent `per_worker`.
pub struct Load<'a> {
    pub bases: &'a [String],
    pub token: &'a str,
    pub body: fn(&str) -> serde_json::Value,
    pub prefix: &'a str,
    pub workers: usize,
    pub per_worker: usize,
    /// Every other lead carries an `Idempotency-Key` (its external id).
    pub keyed: bool,
}

impl Load<'_> {
    /// `workers` workers with no quota over `bases`, sending the minimal valid lead.
    pub fn on<'a>(
        bases: &'a [String],
        token: &'a str,
        prefix: &'a str,
        workers: usize,
    ) -> Load<'a> {
        Load {
            bases,
            token,
            body: crate::helpers::lead,
            prefix,
            workers,
            per_worker: usize::MAX,
            keyed: false,
        }
    }

    /// Starts the workers; they run until `stop` is set (or their quota is sent).
    pub fn start(
        &self,
        client: &reqwest::Client,
        stop: &Arc<AtomicBool>,
    ) -> (Arc<Mutex<Tally>>, Vec<tokio::task::JoinHandle<()>>) {
        let (bases, token, body, prefix, workers, per_worker, keyed) = (
            self.bases,
            self.token,
            self.body,
            self.prefix,
            self.workers,
            self.per_worker,
            self.keyed,
        );
        let tally = Arc::new(Mutex::new(Tally::default()));
        let handles = (0..workers)
            .map(|w| {
                let (client, bases, token) = (client.clone(), bases.to_vec(), token.to_string());
                let (tally, stop, prefix) = (tally.clone(), stop.clone(), prefix.to_string());
                tokio::spawn(async move {
                    let mut i = 0;
                    while i < per_worker && !stop.load(Ordering::SeqCst) {
                        let ext = format!("{prefix}-{w}-{i}");
                        let key = (keyed && i % 2 == 1).then(|| ext.clone());
                        let base = &bases[(w + i) % bases.len()];
                        i += 1;
                        tally.lock().unwrap().sent += 1;
                        let res =
                            post_lead(&client, base, &token, &body(&ext), key.as_deref()).await;
                        let res = match res {
                            Ok(r) if r.status().is_success() => Ok(None),
                            Ok(r) => Ok(Some(Refusal::of(r).await)),
                            Err(e) => Err(e),
                        };
                        let failed = {
                            let mut t = tally.lock().unwrap();
                            match res {
                                Ok(None) => {
                                    t.acknowledged.push(ext);
                                    false
                                }
                                Ok(Some(refusal)) => {
                                    *t.refused.entry(refusal.status).or_default() += 1;
                                    *t.refusals.entry(refusal).or_default() += 1;
                                    t.unacknowledged.push((ext, key));
                                    true
                                }
                                Err(_) => {
                                    t.no_response += 1;
                                    t.unacknowledged.push((ext, key));
                                    true
                                }
                            }
                        };
                        if failed {
                            // The service or its database is down: do not spin.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        (tally, handles)
    }
}

/// `POST /v1/leads` with `body`, and `key` as its `Idempotency-Key` if given.
pub async fn post_lead(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &serde_json::Value,
    key: Option<&str>,
) -> reqwest::Result<reqwest::Response> {
    let mut req = client
        .post(format!("{base}/v1/leads"))
        .bearer_auth(token)
        .json(body);
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    req.send().await
}

/// Every lead in `acknowledged` is stored, and no lead under `prefix` was routed twice
/// (`(source, external_id)` is unique, so "stored twice" would show as a second `routed`
/// entry). Returns how many leads under `prefix` are stored.
pub async fn assert_acknowledged_stored_once(
    pool: &sqlx::PgPool,
    prefix: &str,
    acknowledged: &[String],
) -> usize {
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT external_id FROM leads WHERE source = 'hubspot' AND starts_with(external_id, $1)",
    )
    .bind(format!("{prefix}-"))
    .fetch_all(pool)
    .await
    .unwrap();
    let stored_ids: std::collections::HashSet<&str> = stored.iter().map(String::as_str).collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|e| !stored_ids.contains(e.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    let routed_twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM leads l WHERE source = 'hubspot' AND starts_with(external_id, $1) \
         AND (SELECT count(*) FROM lead_history h WHERE h.lead_id = l.id AND h.kind = 'routed') <> 1",
    )
    .bind(format!("{prefix}-"))
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(routed_twice, 0, "leads without exactly one `routed` entry");
    stored.len()
}
