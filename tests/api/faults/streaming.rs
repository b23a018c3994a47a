//! A primary and a streaming standby of the test's own, from the machine's PostgreSQL
//! binaries, on free ports in temporary directories: what the failover and read replica
//! tests run the service against. Test clusters trust loopback connections (they live for one
//! test, on 127.0.0.1 only); as root the programs run as the `postgres` user.

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use super::{cluster_dir, free_port};

/// The standby's `cluster_name`, which its WAL receiver reports as its application name.
pub const STANDBY_NAME: &str = "salgate_standby";
const DATABASE: &str = "salgate";

/// The newest `/usr/lib/postgresql/*/bin` (or `SALGATE_PG_BIN`).
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SALGATE_PG_BIN") {
        return dir.into();
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL binaries under /usr/lib/postgresql")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version").1
}

/// As root, the `postgres` user's uid and gid (from /etc/passwd); else `None`.
fn run_as() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user.
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("a postgres user to run PostgreSQL as");
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

fn program(name: &str) -> Command {
    let mut c = Command::new(bin_dir().join(name));
    if let Some((uid, gid)) = run_as() {
        c.uid(uid).gid(gid);
    }
    c.env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST");
    c
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One postmaster, run as our child (so the test can SIGKILL it); stopped when dropped.
pub struct Node {
    _dir: tempfile::TempDir,
    data: PathBuf,
    pub port: u16,
    postmaster: Option<Child>,
}

impl Node {
    fn dirs(prefix: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = cluster_dir(prefix);
        if let Some((uid, gid)) = run_as() {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let data = dir.path().join("pgdata");
        (dir, data)
    }

    /// A fresh primary whose commits wait for the standby named [`STANDBY_NAME`] when
    /// `synchronous` (`synchronous_commit=on`), with the test's database created.
    pub async fn primary(synchronous: bool) -> Node {
        let (dir, data) = Node::dirs("salgate-primary-");
        let mut initdb = program("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        let settings = ["wal_level=replica".to_string(), "max_wal_senders=5".into()];
        let node = Node::start(dir, data, &settings);
        let pool = salgate::db::connect(&node.url("postgres"), 1)
            .await
            .unwrap();
        sqlx::raw_sql(&format!("CREATE DATABASE {DATABASE}"))
            .execute(&pool)
            .await
            .unwrap();
        if synchronous {
            // Set once the database exists (a commit would wait for a standby not there yet);
            // nothing else commits until the standby streams.
            for sql in [
                format!("ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'"),
                "ALTER SYSTEM SET synchronous_commit = 'on'".into(),
                "SELECT pg_reload_conf()".into(),
            ] {
                sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
            }
        }
        pool.close().await;
        node
    }

    /// A standby of `primary` (`pg_basebackup -R`), streaming from it.
    pub async fn standby_of(primary: &Node) -> Node {
        let (dir, data) = Node::dirs("salgate-standby-");
        let mut backup = program("pg_basebackup");
        backup
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args(["-U", "postgres", "-R", "-X", "stream", "--no-sync", "-D"])
            .arg(&data);
        run(backup, "pg_basebackup");
        // The copied postgresql.auto.conf names this standby as the synchronous one: once
        // promoted, it has no standby of its own to wait for.
        let settings = [
            format!("cluster_name={STANDBY_NAME}"),
            "synchronous_standby_names=".into(),
        ];
        let node = Node::start(dir, data, &settings);
        // Streaming (and, for a synchronous primary, as its synchronous standby) before use.
        let pool = salgate::db::connect(&primary.url("postgres"), 1)
            .await
            .unwrap();
        eventually("the standby streaming", async || {
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 \
                 AND state = 'streaming' AND sync_state = CASE \
                 WHEN current_setting('synchronous_standby_names') = '' THEN 'async' \
                 ELSE 'sync' END",
            )
            .bind(STANDBY_NAME)
            .fetch_one(&pool)
            .await
            .unwrap();
            n == 1
        })
        .await;
        pool.close().await;
        node
    }

    fn start(dir: tempfile::TempDir, data: PathBuf, settings: &[String]) -> Node {
        let port = free_port();
        let mut postgres = program("postgres");
        postgres
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()]);
        for s in [
            "listen_addresses=127.0.0.1",
            "unix_socket_directories=",
            "max_connections=80",
            "fsync=off",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(settings.iter().cloned())
        {
            postgres.args(["-c", &s]);
        }
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        let child = postgres
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start postgres");
        let node = Node {
            _dir: dir,
            data,
            port,
            postmaster: Some(child),
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let ready = Command::new(bin_dir().join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "postgres on port {} did not start: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What postgres wrote to stderr.
    pub fn log(&self) -> String {
        let dir: &Path = self.data.parent().unwrap();
        std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default()
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The test database's URL.
    pub fn app_url(&self) -> String {
        self.url(DATABASE)
    }

    /// `127.0.0.1:<port>`, for a host list.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `kill -9` of the postmaster alone (its backends notice and exit by themselves).
    pub fn kill_postmaster(&mut self) {
        if let Some(mut child) = self.postmaster.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// `pg_ctl promote`, waiting until the standby accepts writes.
    pub fn promote(&self) {
        let mut promote = program("pg_ctl");
        promote
            .args(["promote", "-w", "-t", "60", "-D"])
            .arg(&self.data);
        run(promote, "pg_ctl promote");
    }

    /// A fast shutdown, waited for.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.postmaster.take() {
            let mut stop = program("pg_ctl");
            stop.args(["stop", "-m", "fast", "-w", "-D"])
                .arg(&self.data);
            run(stop, "pg_ctl stop");
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.postmaster.take() {
            let mut stop = program("pg_ctl");
            stop.args(["stop", "-m", "immediate", "-D"]).arg(&self.data);
            let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Polls until `ready` says so, at most 60 s; panics naming `what` otherwise.
pub async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen within 60 s");
}
