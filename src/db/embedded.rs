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
//! Access: password authentication only, the service's role is not a superuser (see
//! [`auth`]); the cluster directory is 0700 and its log 0600 (see [`log`]). As root the server
//! programs run as the `postgres` user, and the cluster may live elsewhere (see [`location`]).

mod auth;
mod detached;
mod location;
mod log;
#[cfg(test)]
mod security_tests;
mod server;
#[cfg(test)]
pub(crate) mod tests;

use std::{
    fs,
    io::Write,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use auth::Passwords;
pub use auth::{ADMIN_ROLE, APP_ROLE, PASSWORD_FILE};
pub use location::{FALLBACK_ROOT, LOCATION_NOTE};

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Directory that holds the cluster (created if missing; as root, when the `postgres` user
    /// cannot reach it, the cluster lives under [`FALLBACK_ROOT`] instead).
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
    #[error(
        "the embedded PostgreSQL cluster is running but {0} has no passwords for it (was it \
         started by an older salgate? restart the service to upgrade it)"
    )]
    NoPasswords(PathBuf),
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

/// How postgres is run.
enum Launch {
    /// Under the watchdog: it stops when we exit.
    Watched,
    /// On its own, with these extra `name=value` server settings: it outlives us (see
    /// [`detached`]).
    Detached(Vec<String>),
}

pub struct EmbeddedPostgres {
    port: u16,
    database: String,
    /// The watchdog and its stdin; `None` when we attached to a cluster someone else runs.
    owned: Option<(Child, ChildStdin)>,
    /// The thread copying the server's output into its log, while we run it.
    log_pump: Option<JoinHandle<()>>,
    /// The directory holding `pgdata`, the log and the password file.
    dir: PathBuf,
    data: PathBuf,
    passwords: Passwords,
    /// What it was started with, for [`EmbeddedPostgres::restart`].
    opts: EmbeddedOptions,
    fallback_root: PathBuf,
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
    /// Starts the cluster under `opts.dir` (as root: where the `postgres` user can reach it,
    /// see [`location`]), or attaches to the one already running there.
    pub fn start(opts: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        Self::start_in(opts, Path::new(FALLBACK_ROOT))
    }

    /// [`EmbeddedPostgres::start`] with another parent for relocated clusters (tests).
    pub(crate) fn start_in(
        opts: EmbeddedOptions,
        fallback_root: &Path,
    ) -> Result<Self, EmbeddedError> {
        Self::launch(opts, fallback_root, Launch::Watched)
    }

    /// Starts (or attaches to) the cluster, postgres run as `launch` says.
    fn launch(
        opts: EmbeddedOptions,
        fallback_root: &Path,
        launch: Launch,
    ) -> Result<Self, EmbeddedError> {
        let bin = server::bin_dir()?;
        let user = location::run_as()?;
        let dir = location::cluster_dir(&opts.dir, user, fallback_root)?;
        let data = dir.join("pgdata");
        let password_file = dir.join(PASSWORD_FILE);
        let running = if opts.ephemeral {
            None
        } else {
            running_port(&data)
        };
        let passwords = match running {
            Some(_) => Passwords::read(&password_file)?,
            None => Passwords::load_or_create(&password_file)?,
        };
        let mut pg = EmbeddedPostgres {
            port: running.unwrap_or_default(),
            database: opts.database.clone(),
            owned: None,
            log_pump: None,
            data,
            dir,
            passwords,
            opts,
            fallback_root: fallback_root.into(),
        };
        if running.is_some() {
            tracing::info!(
                port = pg.port,
                "attaching to the embedded PostgreSQL already running"
            );
            pg.ensure_database(&bin)?;
            return Ok(pg);
        }
        let ephemeral = pg.opts.ephemeral;
        server::prepare_data(&bin, &pg.data, user, &pg.passwords, ephemeral)?;
        pg.port = match pg.opts.port {
            Some(p) => p,
            None => free_port()?,
        };
        match &launch {
            Launch::Watched => {
                let (child, stdin, pump) = server::spawn(&bin, &pg.dir, user, pg.port, &pg.opts)?;
                pg.owned = Some((child, stdin));
                pg.log_pump = Some(pump);
            }
            Launch::Detached(settings) => {
                let started = detached::spawn(&bin, &pg.dir, user, pg.port, &pg.opts, settings)?;
                pg.owned = Some(started);
            }
        }
        pg.wait_ready(&bin)?;
        pg.admin_psql(&bin, "postgres", &auth::app_role_sql(&pg.passwords))?;
        pg.ensure_database(&bin)?;
        pg.admin_psql(&bin, &pg.database, &auth::transfer_sql())?;
        if matches!(launch, Launch::Detached(_)) {
            // Left running: not ours to stop, on drop or otherwise.
            pg.owned = None;
        }
        Ok(pg)
    }

    fn wait_ready(&mut self, bin: &Path) -> Result<(), EmbeddedError> {
        let limit = Duration::from_secs(60);
        let started = Instant::now();
        let log = self.dir.join("postgres.log");
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
                self.wait_log_written();
                return Err(EmbeddedError::NotReady(limit, log.clone(), tail(&log, 30)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Gives the log pump a moment to write what postgres said before it exited.
    fn wait_log_written(&self) {
        let started = Instant::now();
        while let Some(pump) = &self.log_pump {
            if pump.is_finished() || started.elapsed() > Duration::from_secs(2) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `sql` (on psql's stdin) as `role` in `database`, with the password from the file.
    fn psql_as(
        &self,
        bin: &Path,
        role: &str,
        database: &str,
        sql: &str,
    ) -> Result<String, EmbeddedError> {
        let mut c = Command::new(bin.join("psql"));
        c.args(["-X", "-A", "-t", "-q", "-w", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", role, "-d", database])
            .env("PGPASSFILE", &self.passwords.path);
        for var in ["PGPASSWORD", "PGHOSTADDR", "PGSERVICE", "PGOPTIONS"] {
            c.env_remove(var);
        }
        server::run_with_input(c, sql, "psql")
    }

    fn admin_psql(&self, bin: &Path, database: &str, sql: &str) -> Result<String, EmbeddedError> {
        self.psql_as(bin, ADMIN_ROLE, database, sql)
    }

    /// The database exists and the service's role owns it.
    fn ensure_database(&self, bin: &Path) -> Result<(), EmbeddedError> {
        let count = self.admin_psql(bin, "postgres", &auth::database_exists_sql(&self.database))?;
        let sql = auth::database_sql(&self.database, count.trim() == "1");
        self.admin_psql(bin, "postgres", &sql)?;
        Ok(())
    }

    /// e.g. `postgres://salgate:PASSWORD@127.0.0.1:PORT/<database>`: as the service's role.
    pub fn database_url(&self) -> String {
        self.url_for(&self.database)
    }

    /// URL of another database on the same cluster, as the service's role.
    pub fn url_for(&self, database: &str) -> String {
        self.url(APP_ROLE, &self.passwords.app, database)
    }

    /// URL as the cluster's superuser, for test harnesses and tools that create databases
    /// (the service itself never connects as it).
    pub fn admin_url_for(&self, database: &str) -> String {
        self.url(ADMIN_ROLE, &self.passwords.admin, database)
    }

    // The passwords are alphanumeric: nothing to percent-encode.
    fn url(&self, role: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this process started the cluster (and so stops it).
    pub fn is_owned(&self) -> bool {
        self.owned.is_some()
    }

    /// The directory holding the cluster (`pgdata`, `postgres.log`, the password file): the
    /// one asked for, or as root perhaps one under [`FALLBACK_ROOT`].
    pub fn cluster_dir(&self) -> &Path {
        &self.dir
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
        let fallback_root = self.fallback_root.clone();
        *self = EmbeddedPostgres::start_in(opts, &fallback_root)?;
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
        // Closing stdin tells the watchdog to stop postgres; we do not wait here (nor for the
        // log pump, which ends when postgres has).
        if let Some((child, stdin)) = self.owned.take() {
            drop(stdin);
            drop(child);
        }
    }
}
