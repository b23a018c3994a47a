//! A private PostgreSQL cluster run from the machine's PostgreSQL binaries: the service's
//! default when no `DATABASE_URL` is set (kept under the data dir across restarts), and the
//! test suite's throwaway cluster.
//!
//! Lifetime: postgres runs under a small `sh` watchdog whose stdin is a pipe from us. When our
//! process exits for any reason (even SIGKILL) the pipe closes, `read` returns, and the
//! watchdog asks postgres for a fast shutdown — the cluster never outlives its owner. The
//! watchdog runs in its own process group so a terminal's Ctrl-C reaches only us: we drain
//! requests first, then stop the cluster.
//!
//! As root, `initdb` and `postgres` refuse to run, so they run as the `postgres` user.

use std::{
    fs,
    io::Write,
    net::TcpListener,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    time::{Duration, Instant},
};

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Directory that holds the cluster (created if missing).
    pub dir: PathBuf,
    /// Throwaway cluster: fsync off, directory removed when the owner exits.
    pub ephemeral: bool,
    /// Database created for the application.
    pub database: String,
    pub max_connections: u32,
    /// The port to listen on; a free one when `None`. A fixed port lets a client keep its URL
    /// across a stop and a start (the fault tests restart a cluster under load).
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL binaries found in /usr/lib/postgresql/*/bin (install the `postgresql` \
         package, set SALGATE_PG_BIN, or set DATABASE_URL to use an existing server)"
    )]
    NoBinaries,
    #[error("running as root, but there is no `postgres` user to run PostgreSQL as: {0}")]
    NoPostgresUser(String),
    #[error(
        "the `postgres` user cannot reach {0}: choose a SALGATE_DATA_DIR it can traverse \
         (e.g. under /var/lib or /tmp)"
    )]
    Unreachable(PathBuf),
    #[error("{action} failed: {detail}")]
    Command { action: String, detail: String },
    #[error("PostgreSQL did not become ready (waited at most {0:?}); last lines of {1}:\n{2}")]
    NotReady(Duration, PathBuf, String),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let what = what.into();
    move |e| EmbeddedError::Io(what, e)
}

pub struct EmbeddedPostgres {
    port: u16,
    database: String,
    /// The watchdog and its stdin; `None` when we attached to a cluster someone else runs.
    owned: Option<(Child, ChildStdin)>,
    data: PathBuf,
    /// What it was started with, for [`EmbeddedPostgres::restart`].
    opts: EmbeddedOptions,
}

/// The uid/gid to run server programs as: the `postgres` user when we are root.
fn run_as() -> Result<Option<(u32, u32)>, EmbeddedError> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(u)) => Ok(Some((u.uid.as_raw(), u.gid.as_raw()))),
        Ok(None) => Err(EmbeddedError::NoPostgresUser("not found".into())),
        Err(e) => Err(EmbeddedError::NoPostgresUser(e.to_string())),
    }
}

fn bin_dir() -> Result<PathBuf, EmbeddedError> {
    if let Ok(dir) = std::env::var("SALGATE_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("postgres").is_file() {
            Ok(dir)
        } else {
            Err(EmbeddedError::NoBinaries)
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| EmbeddedError::NoBinaries)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, b)| b)
        .ok_or(EmbeddedError::NoBinaries)
}

fn command(bin: &Path, program: &str, user: Option<(u32, u32)>) -> Command {
    let mut c = Command::new(bin.join(program));
    if let Some((uid, gid)) = user {
        c.uid(uid).gid(gid);
    }
    // Server programs must not inherit a client's connection settings.
    c.env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST");
    c
}

fn run(mut c: Command, action: &str) -> Result<String, EmbeddedError> {
    let out = c.output().map_err(io(action))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(EmbeddedError::Command {
            action: action.into(),
            detail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

fn free_port() -> Result<u16, EmbeddedError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(l.local_addr().map_err(io("finding a free port"))?.port())
}

/// The port of a postmaster still running on `data`, if any. A pid file whose pid now belongs
/// to another program (after a reboot or in a container) is stale: it is removed, since
/// postgres would otherwise refuse to start.
fn running_port(data: &Path) -> Option<u16> {
    let pid_path = data.join("postmaster.pid");
    let pid_file = fs::read_to_string(&pid_path).ok()?;
    let mut lines = pid_file.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == "postgres" || comm.trim() == "postmaster" {
        return Some(port);
    }
    if !comm.is_empty() {
        let _ = fs::remove_file(&pid_path);
    }
    None
}

fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl EmbeddedPostgres {
    pub fn start(opts: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let bin = bin_dir()?;
        let user = run_as()?;
        fs::create_dir_all(&opts.dir).map_err(io(format!("creating {}", opts.dir.display())))?;
        let dir = opts
            .dir
            .canonicalize()
            .map_err(io(format!("resolving {}", opts.dir.display())))?;
        let data = dir.join("pgdata");
        let log = dir.join("postgres.log");

        if !opts.ephemeral {
            if let Some(port) = running_port(&data) {
                tracing::info!(port, "attaching to the embedded PostgreSQL already running");
                let pg = EmbeddedPostgres {
                    port,
                    database: opts.database.clone(),
                    owned: None,
                    data,
                    opts,
                };
                pg.ensure_database(&bin)?;
                return Ok(pg);
            }
        }

        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .map_err(io(format!("chown {}", dir.display())))?;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
                .map_err(io(format!("chmod {}", dir.display())))?;
            // The postgres user must be able to reach the directory through its parents.
            let mut probe = command(Path::new("/usr/bin"), "test", user);
            probe.arg("-w").arg(&dir);
            if !probe.status().map(|s| s.success()).unwrap_or(false) {
                return Err(EmbeddedError::Unreachable(dir));
            }
        }

        if !data.join("PG_VERSION").is_file() {
            let mut initdb = command(&bin, "initdb", user);
            initdb.arg("-D").arg(&data).args([
                "-U",
                "salgate",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ]);
            if opts.ephemeral {
                initdb.arg("--no-sync");
            }
            run(initdb, "initdb")?;
        }

        let port = match opts.port {
            Some(p) => p,
            None => free_port()?,
        };
        let mut args = vec![
            "-D".to_string(),
            data.display().to_string(),
            "-p".into(),
            port.to_string(),
            "-c".into(),
            "listen_addresses=127.0.0.1".into(),
            "-c".into(),
            "unix_socket_directories=".into(),
            "-c".into(),
            format!("max_connections={}", opts.max_connections),
        ];
        if opts.ephemeral {
            for s in [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                args.extend(["-c".into(), s.into()]);
            }
        }
        // $0 = postgres binary, $1 = log file, $2 = dir to remove afterwards ("" to keep).
        // The watchdog ends when postgres does; its stdin reader asks postgres to stop.
        let script = r#"
            pg="$0"; logfile="$1"; cleanup="$2"; shift 2
            exec 3<&0
            "$pg" "$@" </dev/null >>"$logfile" 2>&1 &
            pid=$!
            { read -r _ignored <&3; kill -INT "$pid" 2>/dev/null; } &
            wait "$pid"
            [ -n "$cleanup" ] && rm -rf "$cleanup"
            exit 0
        "#;
        let cleanup = if opts.ephemeral {
            dir.display().to_string()
        } else {
            String::new()
        };
        let mut watchdog = Command::new("/bin/sh");
        watchdog
            .arg("-c")
            .arg(script)
            .arg(bin.join("postgres"))
            .arg(&log)
            .arg(cleanup)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some((uid, gid)) = user {
            watchdog.uid(uid).gid(gid);
        }
        let mut child = watchdog.spawn().map_err(io("starting postgres"))?;
        // Start-up only; stdin is piped just above, so it is there.
        let stdin = child.stdin.take().expect("piped stdin");
        let mut pg = EmbeddedPostgres {
            port,
            database: opts.database.clone(),
            owned: Some((child, stdin)),
            data,
            opts,
        };
        pg.wait_ready(&bin, &log)?;
        pg.ensure_database(&bin)?;
        Ok(pg)
    }

    fn wait_ready(&mut self, bin: &Path, log: &Path) -> Result<(), EmbeddedError> {
        let limit = Duration::from_secs(60);
        let started = Instant::now();
        loop {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ready {
                return Ok(());
            }
            let exited = match &mut self.owned {
                Some((child, _)) => child.try_wait().ok().flatten().is_some(),
                None => false,
            };
            if exited || started.elapsed() > limit {
                return Err(EmbeddedError::NotReady(limit, log.into(), tail(log, 30)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn psql(&self, bin: &Path, sql: &str) -> Result<String, EmbeddedError> {
        let mut c = Command::new(bin.join("psql"));
        c.args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "salgate",
        ])
        .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql]);
        run(c, "psql")
    }

    fn ensure_database(&self, bin: &Path) -> Result<(), EmbeddedError> {
        let name = self.database.replace('\'', "''");
        let exists = self.psql(
            bin,
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        )?;
        if exists.trim() != "1" {
            let ident = self.database.replace('"', "\"\"");
            self.psql(bin, &format!("CREATE DATABASE \"{ident}\""))?;
        }
        Ok(())
    }

    /// e.g. `postgres://salgate@127.0.0.1:PORT/<database>`
    pub fn database_url(&self) -> String {
        self.url_for(&self.database)
    }

    /// URL of another database on the same cluster (tests create one per test).
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://salgate@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this process started the cluster (and so stops it).
    pub fn is_owned(&self) -> bool {
        self.owned.is_some()
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// Whether the cluster behind this handle is gone: for one we run, postgres (and so its
    /// watchdog) exited; for one we attached to, its pid file no longer names a live postgres
    /// (its owner stopped it, or postgres died).
    pub fn has_stopped(&mut self) -> bool {
        match &mut self.owned {
            // An error from try_wait means the child was already reaped: gone as well.
            Some((child, _)) => !matches!(child.try_wait(), Ok(None)),
            None => running_port(&self.data).is_none(),
        }
    }

    /// Starts the cluster again after it stopped (see [`EmbeddedPostgres::has_stopped`]), on
    /// the same port so that connection URLs handed out before stay valid; attaches instead
    /// if another process has started it meanwhile. A throwaway cluster cannot be restarted:
    /// its directory went with it.
    pub fn restart(&mut self) -> Result<(), EmbeddedError> {
        if self.opts.ephemeral {
            return Err(EmbeddedError::Command {
                action: "restarting postgres".into(),
                detail: "a throwaway cluster is removed when it stops".into(),
            });
        }
        let opts = EmbeddedOptions {
            port: Some(self.port),
            ..self.opts.clone()
        };
        *self = EmbeddedPostgres::start(opts)?;
        Ok(())
    }

    /// Fast shutdown, waiting up to 10 s for postgres to exit; a no-op when we attached to a
    /// cluster another process runs.
    pub fn stop(mut self) -> Result<(), EmbeddedError> {
        let Some((mut child, mut stdin)) = self.owned.take() else {
            return Ok(());
        };
        let _ = stdin.write_all(b"stop\n");
        drop(stdin);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if child
                .try_wait()
                .map_err(io("waiting for postgres"))?
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(EmbeddedError::Command {
            action: "stopping postgres".into(),
            detail: "it did not exit within 10 s".into(),
        })
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        // Closing stdin tells the watchdog to stop postgres; we do not wait here.
        if let Some((child, stdin)) = self.owned.take() {
            drop(stdin);
            drop(child);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn psql_ok(pg: &EmbeddedPostgres, sql: &str) -> String {
        pg.psql(&bin_dir().unwrap(), sql).unwrap()
    }

    pub(crate) fn dir_for_test(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("salgate-embedded-{name}-{}", std::process::id()))
    }

    /// A cluster under `dir_for_test(name)` with a database `app` and a free port.
    pub(crate) fn options_for_test(name: &str, ephemeral: bool) -> EmbeddedOptions {
        EmbeddedOptions {
            dir: dir_for_test(name),
            ephemeral,
            database: "app".into(),
            max_connections: 20,
            port: None,
        }
    }

    #[test]
    fn an_ephemeral_cluster_serves_and_is_removed_when_stopped() {
        let dir = dir_for_test("ephemeral");
        let pg = EmbeddedPostgres::start(options_for_test("ephemeral", true)).unwrap();
        assert_eq!(
            psql_ok(&pg, "SELECT 1 FROM pg_database WHERE datname = 'app'").trim(),
            "1"
        );
        let port = pg.port();
        pg.stop().unwrap();
        let started = Instant::now();
        while dir.exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !dir.exists(),
            "the throwaway cluster's directory is removed"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "postgres is gone"
        );
    }

    #[test]
    fn a_persistent_cluster_keeps_its_data_across_restarts_and_can_be_attached_to() {
        let dir = dir_for_test("persistent");
        let opts = options_for_test("persistent", false);
        let first = EmbeddedPostgres::start(opts.clone()).unwrap();
        psql_ok(
            &first,
            "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)",
        );
        // A second process (e.g. `salgate keys create`) attaches instead of starting another.
        let attached = EmbeddedPostgres::start(opts.clone()).unwrap();
        assert_eq!(attached.port(), first.port());
        attached.stop().unwrap();
        assert_eq!(
            psql_ok(&first, "SELECT x FROM kept").trim(),
            "42",
            "attach did not stop it"
        );
        first.stop().unwrap();
        let second = EmbeddedPostgres::start(opts).unwrap();
        assert_eq!(psql_ok(&second, "SELECT x FROM kept").trim(), "42");
        second.stop().unwrap();
        let _ = fs::remove_dir_all(&dir);
    }

    /// SIGKILLs the postmaster of the cluster under `pg`, as the OOM killer would.
    pub(crate) fn kill_postmaster(pg: &EmbeddedPostgres) {
        let text = fs::read_to_string(pg.data_dir().join("postmaster.pid")).unwrap();
        let pid: i32 = text.lines().next().unwrap().trim().parse().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }

    fn wait_stopped(pg: &mut EmbeddedPostgres) {
        let started = Instant::now();
        while !pg.has_stopped() {
            assert!(started.elapsed() < Duration::from_secs(10), "still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn a_killed_postgres_is_seen_as_stopped_and_restarts_on_its_port_with_its_data() {
        let dir = dir_for_test("killed");
        let opts = options_for_test("killed", false);
        let mut owner = EmbeddedPostgres::start(opts.clone()).unwrap();
        let mut attached = EmbeddedPostgres::start(opts).unwrap();
        assert!(owner.is_owned() && !attached.is_owned());
        assert!(!owner.has_stopped() && !attached.has_stopped());
        psql_ok(
            &owner,
            "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)",
        );
        let port = owner.port();

        kill_postmaster(&owner);
        wait_stopped(&mut owner);
        wait_stopped(&mut attached);
        owner.restart().unwrap();
        assert!(owner.is_owned() && !owner.has_stopped());
        assert_eq!(owner.port(), port, "same port, so pooled URLs stay valid");
        assert_eq!(psql_ok(&owner, "SELECT x FROM kept").trim(), "7");
        // The other handle finds it running again and attaches instead of starting another.
        attached.restart().unwrap();
        assert!(!attached.is_owned());
        assert_eq!(attached.port(), port);
        owner.stop().unwrap();
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_throwaway_cluster_is_not_restarted() {
        let mut pg = EmbeddedPostgres::start(options_for_test("throwaway-killed", true)).unwrap();
        kill_postmaster(&pg);
        wait_stopped(&mut pg);
        assert!(pg.restart().is_err());
    }

    #[test]
    fn a_pid_file_naming_another_program_is_stale_and_removed() {
        let dir = dir_for_test("stale");
        fs::create_dir_all(&dir).unwrap();
        let pid_file = dir.join("postmaster.pid");
        // Our own pid: alive, but not postgres.
        fs::write(&pid_file, format!("{}\n/x\n0\n5999\n", std::process::id())).unwrap();
        assert_eq!(running_port(&dir), None);
        assert!(!pid_file.exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
