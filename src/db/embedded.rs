//! A private PostgreSQL cluster run from the machine's PostgreSQL binaries.
//!
//! The service uses a persistent cluster under its data directory when no `DATABASE_URL` is
//! configured; the test suite uses an ephemeral one in a temporary directory.
//!
//! # Lifetime
//!
//! postgres is not our direct child: a small `sh` watchdog starts it in the background and
//! blocks reading its stdin, whose write end only we hold. When our process exits — even by
//! SIGKILL — or drops the handle, the read sees EOF and the watchdog asks postgres for a fast
//! shutdown (SIGINT), waits for it, and for an ephemeral cluster removes the directory. So a
//! cluster never outlives its owner, without any cooperation from the owner at exit.
//!
//! The watchdog runs in its own process group, so a Ctrl-C at the terminal reaches the
//! service (which drains and then stops the cluster) but not postgres.
//!
//! # Root
//!
//! `initdb` and `postgres` refuse to run as root. When we are root they run as the `postgres`
//! system user, which then owns the cluster directory. Clients (`psql`, `pg_isready`) need no
//! switch: authentication is `trust` on 127.0.0.1.
//!
//! Everything here is blocking; async callers use `spawn_blocking`.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Read, Seek, SeekFrom},
    net::{Ipv4Addr, TcpListener},
    os::unix::{
        fs::MetadataExt,
        process::{CommandExt, ExitStatusExt},
    },
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use nix::{
    errno::Errno,
    sys::signal::{self, Signal},
    unistd::{self, Pid, User},
};

/// Superuser role created by `initdb`; the application connects as it.
const SUPERUSER: &str = "salgate";
/// System user the server runs as when we are root.
const SERVER_USER: &str = "postgres";
/// Where Debian's `postgresql-<major>` packages put the binaries.
const DEBIAN_PG_ROOT: &str = "/usr/lib/postgresql";
/// Overrides the binary directory.
const BIN_ENV: &str = "SALGATE_PG_BIN";

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 30;
/// Launch attempts: the free port we picked can be taken before postgres binds it.
const PORT_ATTEMPTS: usize = 3;

/// Watchdog script. Arguments: `$1` postgres binary, `$2` data directory, `$3` directory to
/// remove after postgres stops (empty: none), then the postgres options.
///
/// An asynchronous list in a non-interactive shell gets /dev/null as stdin, so the reader
/// keeps our pipe on fd 3. The shell exits when postgres does, whatever the reason, which is
/// how the owner notices a postgres that died during start-up. (Background jobs of such a
/// shell start with SIGINT ignored; postgres installs its own handler, so SIGINT still works.)
const WATCHDOG: &str = r#"
pg=$1 data=$2 cleanup=$3
shift 3
"$pg" -D "$data" "$@" &
pid=$!
exec 3<&0
{ read _ <&3; kill -INT "$pid" 2>/dev/null; } &
watch=$!
exec 3<&-
wait "$pid"
rc=$?
kill "$watch" 2>/dev/null
[ -z "$cleanup" ] || rm -rf -- "$cleanup"
exit "$rc"
"#;

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Directory that holds the cluster (created if missing).
    pub dir: PathBuf,
    /// Throwaway cluster: fsync off, directory removed when the owner exits.
    pub ephemeral: bool,
    /// Database created for the application.
    pub database: String,
    pub max_connections: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries not found ({searched}): install the `postgresql` package \
         or set {BIN_ENV} to the directory holding `postgres`, `initdb` and `psql`"
    )]
    BinariesNotFound { searched: String },

    #[error(
        "the cluster in {dir} was created by PostgreSQL {cluster}, but the binaries in {bin} \
         are PostgreSQL {binaries}: install PostgreSQL {cluster} (or set {BIN_ENV} to its \
         binaries), or upgrade the cluster with pg_upgrade"
    )]
    VersionMismatch {
        dir: PathBuf,
        bin: PathBuf,
        cluster: String,
        binaries: String,
    },

    #[error(
        "salgate runs as root and PostgreSQL refuses to, but there is no `{SERVER_USER}` \
         system user to run it as: install the `postgresql` package, or run salgate as a \
         regular user"
    )]
    NoServerUser,

    #[error(
        "PostgreSQL runs as the `{SERVER_USER}` user when salgate runs as root, and that user \
         cannot {access} {dir}: set SALGATE_DATA_DIR to a directory it can reach (outside \
         /root, e.g. /var/lib/salgate)"
    )]
    NotAccessible { dir: PathBuf, access: &'static str },

    #[error(
        "the cluster in {dir} belongs to uid {owner}, but PostgreSQL would run as uid \
         {expected}: run salgate as the user that created it, or `chown -R` the directory"
    )]
    WrongOwner {
        dir: PathBuf,
        owner: u32,
        expected: u32,
    },

    #[error(
        "refusing to use {dir} for a throwaway cluster: it holds other files ({entry}), and a \
         throwaway cluster's directory is deleted when it stops"
    )]
    NotEmpty { dir: PathBuf, entry: String },

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("could not run {}: {source}", program.display())]
    Spawn { program: PathBuf, source: io::Error },

    #[error("initdb failed for {dir}:\n{output}")]
    Initdb { dir: PathBuf, output: String },

    #[error("PostgreSQL exited during start-up ({status}); last lines of {}:\n{tail}", log.display())]
    StartFailed {
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error(
        "PostgreSQL did not accept connections on 127.0.0.1:{port} within {}s; last lines of \
         {}:\n{tail}", START_TIMEOUT.as_secs(), log.display()
    )]
    StartTimeout {
        port: u16,
        log: PathBuf,
        tail: String,
    },

    #[error(
        "a PostgreSQL server (pid {pid}) is running on {dir} but does not accept connections \
         on 127.0.0.1:{port}; stop it, or wait for it to finish starting or stopping"
    )]
    Unresponsive { pid: i32, port: u16, dir: PathBuf },

    #[error("malformed {}: {reason}; if no PostgreSQL runs on that cluster, delete the file", path.display())]
    BadPidFile { path: PathBuf, reason: &'static str },

    #[error("could not create database {database}: {output}")]
    CreateDatabase { database: String, output: String },

    #[error("PostgreSQL stopped with {status}; last lines of {}:\n{tail}", log.display())]
    StoppedUncleanly {
        status: String,
        log: PathBuf,
        tail: String,
    },

    #[error(
        "PostgreSQL did not stop within {}s and was killed; see {}", STOP_TIMEOUT.as_secs(),
        log.display()
    )]
    StopTimeout { log: PathBuf },
}

type Result<T, E = EmbeddedError> = std::result::Result<T, E>;

/// A running cluster: started by us, or found running on the same (persistent) directory.
pub struct EmbeddedPostgres {
    port: u16,
    database: String,
    /// `None` when we attached to a server another process runs.
    owned: Option<Owned>,
}

impl EmbeddedPostgres {
    pub fn start(opts: EmbeddedOptions) -> Result<Self> {
        let dir = std::path::absolute(&opts.dir).map_err(io_err("resolve", &opts.dir))?;
        let layout = Layout::new(dir, opts.ephemeral);
        let run_as = server_identity()?;

        // A second salgate command next to a running `salgate serve` shares its server.
        if !opts.ephemeral {
            if let Some(port) = attach_port(&layout.data)? {
                let bin = find_bin_dir(read_pg_version(&layout.data).as_deref())?;
                tracing::info!(port, dir = %layout.data.display(), "using the PostgreSQL server already running on the cluster");
                ensure_database(&bin, port, &opts.database)?;
                return Ok(EmbeddedPostgres {
                    port,
                    database: opts.database,
                    owned: None,
                });
            }
        }

        // Binaries first: a missing installation should not leave directories behind.
        let version = (!opts.ephemeral)
            .then(|| read_pg_version(&layout.data))
            .flatten();
        let bin = find_bin_dir(version.as_deref())?;
        if let Some(cluster) = &version {
            check_version(&bin, &layout.data, cluster)?;
        }
        layout.prepare(run_as)?;
        let started = Self::start_prepared(&bin, &layout, run_as, opts);
        if started.is_err() && layout.ephemeral {
            remove_leftovers(Some(&layout.root));
        }
        started
    }

    /// The rest of `start`, once the directory is ready.
    fn start_prepared(
        bin: &Path,
        layout: &Layout,
        run_as: Option<RunAs>,
        opts: EmbeddedOptions,
    ) -> Result<Self> {
        let mut attempt = 1;
        let owned = loop {
            if attempt > 1 {
                // An ephemeral cluster's directory went away with the failed server.
                layout.prepare(run_as)?;
            }
            if read_pg_version(&layout.data).is_none() {
                initdb(bin, &layout.data, run_as, opts.ephemeral)?;
            }
            let port = free_port()?;
            match launch(bin, layout, run_as, port, &opts) {
                Ok(owned) => break owned,
                Err(Launch::PortTaken(e)) if attempt < PORT_ATTEMPTS => {
                    tracing::warn!(port, error = %e, "PostgreSQL could not bind its port; retrying with another");
                    attempt += 1;
                }
                Err(Launch::PortTaken(e) | Launch::Failed(e)) => return Err(e),
            }
        };
        tracing::info!(port = owned.port, dir = %layout.data.display(), "PostgreSQL started");

        let pg = EmbeddedPostgres {
            port: owned.port,
            database: opts.database,
            owned: Some(owned),
        };
        if let Err(e) = ensure_database(bin, pg.port, &pg.database) {
            // Wait for the server, so that `start` may remove an ephemeral directory.
            let _ = pg.stop();
            return Err(e);
        }
        Ok(pg)
    }

    /// e.g. postgres://salgate@127.0.0.1:PORT/<database>
    pub fn database_url(&self) -> String {
        self.url_for(&self.database)
    }

    /// URL of another database on the same cluster (tests create one per test).
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}",
            self.port,
            percent_encode(database)
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fast shutdown and wait (up to 10 s) for postgres to exit; no-op when we attached to a
    /// running one.
    pub fn stop(mut self) -> Result<()> {
        match self.owned.take() {
            Some(owned) => owned.shutdown(),
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(owned) = self.owned.take() {
            owned.release();
        }
    }
}

/// The watchdog of a server we started, and what is needed to stop it.
struct Owned {
    port: u16,
    /// The watchdog shell; its pid is also the process group of postgres.
    child: Child,
    /// Closing it (drop) starts the fast shutdown.
    stdin: Option<ChildStdin>,
    log: LogFile,
    /// Ephemeral cluster directory, removed after the server stops.
    cleanup: Option<PathBuf>,
}

impl Owned {
    fn shutdown(mut self) -> Result<()> {
        drop(self.stdin.take());
        let result = match wait_timeout(&mut self.child, STOP_TIMEOUT) {
            Ok(Some(status)) if status.success() => Ok(()),
            Ok(Some(status)) => Err(EmbeddedError::StoppedUncleanly {
                status: describe(status),
                log: self.log.path.clone(),
                tail: self.log.tail(),
            }),
            Ok(None) | Err(_) => {
                self.kill();
                Err(EmbeddedError::StopTimeout {
                    log: self.log.path.clone(),
                })
            }
        };
        remove_leftovers(self.cleanup.as_deref());
        result
    }

    /// Starts the shutdown without waiting for it: a thread reaps the watchdog.
    fn release(mut self) {
        drop(self.stdin.take());
        let Owned {
            mut child, cleanup, ..
        } = self;
        let reaper = thread::Builder::new()
            .name("postgres-reaper".into())
            .spawn(move || {
                let _ = child.wait();
                remove_leftovers(cleanup.as_deref());
            });
        if let Err(e) = reaper {
            // The watchdog stops postgres anyway; we only leave a zombie until we exit.
            tracing::warn!(error = %e, "could not spawn a thread to reap the PostgreSQL watchdog");
        }
    }

    /// Last resort: immediate shutdown (SIGQUIT) of the whole group, then SIGKILL. The group
    /// is only signalled before we reap the watchdog: until then its pid, the group id, cannot
    /// be reused by an unrelated process.
    fn kill(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = signal::killpg(group, Signal::SIGQUIT);
        thread::sleep(Duration::from_secs(2));
        let _ = signal::killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

fn remove_leftovers(dir: Option<&Path>) {
    // The watchdog removes the directory; as the server user it may lack the right to remove
    // the directory itself (not its contents) from the parent.
    if let Some(dir) = dir {
        match fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove the throwaway PostgreSQL cluster")
            }
        }
    }
}

/// Uid and gid the server processes run as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

fn server_identity() -> Result<Option<RunAs>> {
    if !unistd::geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name(SERVER_USER) {
        Ok(Some(user)) => Ok(Some(RunAs {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
        })),
        Ok(None) | Err(_) => Err(EmbeddedError::NoServerUser),
    }
}

/// Where the pieces of a cluster live.
struct Layout {
    /// The directory we create and, as root, hand over to the server user.
    root: PathBuf,
    /// PGDATA.
    data: PathBuf,
    log: PathBuf,
    ephemeral: bool,
}

impl Layout {
    fn new(dir: PathBuf, ephemeral: bool) -> Layout {
        if ephemeral {
            // Everything inside `dir`, so removing it removes all. The data directory is a
            // subdirectory because initdb wants an empty (or missing) one.
            Layout {
                data: dir.join("data"),
                log: dir.join("postgres.log"),
                root: dir,
                ephemeral,
            }
        } else {
            let log = dir.parent().unwrap_or(&dir).join("postgres.log");
            Layout {
                data: dir.clone(),
                log,
                root: dir,
                ephemeral,
            }
        }
    }

    /// Creates the directories and makes them usable by the user the server runs as.
    fn prepare(&self, run_as: Option<RunAs>) -> Result<()> {
        if self.ephemeral {
            self.clear_ephemeral()?;
        }
        fs::create_dir_all(&self.root).map_err(io_err("create", &self.root))?;
        let expected = run_as.map_or_else(|| unistd::geteuid().as_raw(), |r| r.uid);
        let owner = fs::metadata(&self.root)
            .map_err(io_err("inspect", &self.root))?
            .uid();
        if owner != expected {
            if read_pg_version(&self.data).is_some() {
                // Taking over somebody's cluster silently is not our call.
                return Err(EmbeddedError::WrongOwner {
                    dir: self.data.clone(),
                    owner,
                    expected,
                });
            }
            if let Some(r) = run_as {
                std::os::unix::fs::chown(&self.root, Some(r.uid), Some(r.gid))
                    .map_err(io_err("change the owner of", &self.root))?;
            }
        }
        if let Some(r) = run_as {
            check_server_access(&self.root, r)?;
        }
        Ok(())
    }

    /// A throwaway directory may only hold what an earlier cluster left (a process killed
    /// before its watchdog ran, a reboot); anything else is somebody's data.
    fn clear_ephemeral(&self) -> Result<()> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("read", &self.root)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("read", &self.root))?;
            let path = entry.path();
            if path == self.data {
                fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
            } else if path == self.log {
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
            } else {
                return Err(EmbeddedError::NotEmpty {
                    dir: self.root.clone(),
                    entry: entry.file_name().to_string_lossy().into_owned(),
                });
            }
        }
        Ok(())
    }
}

/// As root, checks that the server user can reach `dir` (every ancestor searchable) and write
/// in it, by asking a shell running as that user; names the first directory in the way.
fn check_server_access(dir: &Path, run_as: RunAs) -> Result<()> {
    const SCRIPT: &str = r#"
last=
for d; do
  [ -x "$d" ] || { printf 'x%s' "$d"; exit 1; }
  last=$d
done
[ -w "$last" ] || { printf 'w%s' "$last"; exit 1; }
"#;
    let mut ancestors: Vec<&Path> = dir.ancestors().collect();
    ancestors.reverse();
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(SCRIPT).arg("salgate-access-check");
    cmd.args(ancestors);
    as_user(&mut cmd, Some(run_as));
    let out = output(&mut cmd)?;
    if out.status.success() {
        return Ok(());
    }
    let report = String::from_utf8_lossy(&out.stdout);
    let (access, dir) = match report.split_at_checked(1) {
        Some(("w", d)) => ("write in", PathBuf::from(d)),
        Some(("x", d)) => ("enter", PathBuf::from(d)),
        _ => ("reach", dir.to_path_buf()),
    };
    Err(EmbeddedError::NotAccessible { dir, access })
}

/// The major version a cluster was created with, if it is initialized.
fn read_pg_version(data: &Path) -> Option<String> {
    fs::read_to_string(data.join("PG_VERSION"))
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `$SALGATE_PG_BIN`, or `/usr/lib/postgresql/<major>/bin`: the cluster's own major when
/// installed (an upgrade of the package installs the new major next to the old one), else the
/// highest.
fn find_bin_dir(cluster_major: Option<&str>) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.join("postgres").is_file() {
            return Err(EmbeddedError::BinariesNotFound {
                searched: format!("{BIN_ENV}={} has no `postgres`", dir.display()),
            });
        }
        return Ok(dir);
    }
    let not_found = || EmbeddedError::BinariesNotFound {
        searched: format!("looked in {DEBIAN_PG_ROOT}/<version>/bin"),
    };
    let mut installed: Vec<(u32, PathBuf)> = fs::read_dir(DEBIAN_PG_ROOT)
        .map_err(|_| not_found())?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    installed.sort();
    if let Some(wanted) = cluster_major {
        if let Some((_, bin)) = installed.iter().find(|(m, _)| m.to_string() == wanted) {
            return Ok(bin.clone());
        }
    }
    installed.pop().map(|(_, bin)| bin).ok_or_else(not_found)
}

/// Fails clearly instead of letting postgres refuse a cluster of another major version.
fn check_version(bin: &Path, data: &Path, cluster: &str) -> Result<()> {
    let program = bin.join("postgres");
    let out = output(Command::new(&program).arg("--version"))?;
    // "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.split(") ").nth(1) else {
        return Ok(()); // Unknown format: let postgres judge.
    };
    let major = version
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap_or_default();
    // Before 10, the major version had two parts ("9.6"); such a cluster mismatches anyway.
    if !major.is_empty() && major != cluster {
        return Err(EmbeddedError::VersionMismatch {
            dir: data.to_path_buf(),
            bin: bin.to_path_buf(),
            cluster: cluster.to_string(),
            binaries: major.to_string(),
        });
    }
    Ok(())
}

fn initdb(bin: &Path, data: &Path, run_as: Option<RunAs>, ephemeral: bool) -> Result<()> {
    tracing::info!(dir = %data.display(), "initializing a PostgreSQL cluster");
    let program = bin.join("initdb");
    let run = |locale: &str| {
        let mut cmd = Command::new(&program);
        cmd.arg("-D")
            .arg(data)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8"])
            .arg(format!("--locale={locale}"));
        if ephemeral {
            cmd.arg("--no-sync");
        }
        as_user(&mut cmd, run_as);
        output(&mut cmd)
    };
    // C.UTF-8 sorts like C but classifies non-ASCII characters; not every libc has it.
    let first = run("C.UTF-8")?;
    if first.status.success() {
        return Ok(());
    }
    tracing::debug!(output = %combined(&first), "initdb with locale C.UTF-8 failed; retrying with C");
    let second = run("C")?;
    if second.status.success() {
        return Ok(());
    }
    Err(EmbeddedError::Initdb {
        dir: data.to_path_buf(),
        output: format!(
            "with --locale=C.UTF-8:\n{}\nwith --locale=C:\n{}",
            combined(&first),
            combined(&second)
        ),
    })
}

/// How a launch attempt failed: the port race is worth another attempt.
enum Launch {
    PortTaken(EmbeddedError),
    Failed(EmbeddedError),
}

fn launch(
    bin: &Path,
    layout: &Layout,
    run_as: Option<RunAs>,
    port: u16,
    opts: &EmbeddedOptions,
) -> Result<Owned, Launch> {
    let log = LogFile::open(&layout.log).map_err(Launch::Failed)?;
    let stdio = || -> Result<Stdio, Launch> {
        log.file
            .try_clone()
            .map(Stdio::from)
            .map_err(|e| Launch::Failed(io_err("open", &layout.log)(e)))
    };

    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(WATCHDOG)
        .arg("salgate-postgres-watchdog")
        .arg(bin.join("postgres"))
        .arg(&layout.data)
        .arg(if opts.ephemeral {
            layout.root.as_os_str()
        } else {
            "".as_ref()
        })
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-p")
        .arg(port.to_string())
        // TCP only: socket paths under a deep data dir can exceed the 107-byte limit, and the
        // system default (/var/run/postgresql) belongs to the system server.
        .args(["-c", "unix_socket_directories="])
        .arg("-c")
        .arg(format!("max_connections={}", opts.max_connections));
    if opts.ephemeral {
        cmd.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    cmd.stdin(Stdio::piped())
        .stdout(stdio()?)
        .stderr(stdio()?)
        // Out of the terminal's process group: Ctrl-C must reach the service, not postgres.
        .process_group(0);
    as_user(&mut cmd, run_as);
    let mut child = cmd.spawn().map_err(|source| {
        Launch::Failed(EmbeddedError::Spawn {
            program: "/bin/sh".into(),
            source,
        })
    })?;
    let mut owned = Owned {
        port,
        stdin: child.stdin.take(),
        child,
        log,
        cleanup: opts.ephemeral.then(|| layout.root.clone()),
    };

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match owned.child.try_wait() {
            Ok(Some(status)) => {
                let tail = owned.log.tail();
                let taken = tail.contains("could not bind") || tail.contains("already in use");
                let err = EmbeddedError::StartFailed {
                    status: describe(status),
                    log: owned.log.path.clone(),
                    tail,
                };
                remove_leftovers(owned.cleanup.as_deref());
                return Err(if taken {
                    Launch::PortTaken(err)
                } else {
                    Launch::Failed(err)
                });
            }
            Ok(None) => {}
            Err(e) => {
                owned.release();
                return Err(Launch::Failed(io_err("wait for", &layout.log)(e)));
            }
        }
        if is_ready(bin, port) {
            return Ok(owned);
        }
        if Instant::now() >= deadline {
            let err = EmbeddedError::StartTimeout {
                port,
                log: owned.log.path.clone(),
                tail: owned.log.tail(),
            };
            let _ = owned.shutdown();
            return Err(Launch::Failed(err));
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// The server's log, opened by us (so it works whoever the server runs as) and handed to it
/// as stdout and stderr.
struct LogFile {
    path: PathBuf,
    file: File,
    /// Where this run's output starts: a persistent cluster's log spans restarts.
    start: u64,
}

impl LogFile {
    fn open(path: &Path) -> Result<LogFile> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io_err("open", path))?;
        let start = file.metadata().map_err(io_err("inspect", path))?.len();
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            start,
        })
    }

    /// The last lines of this run's output. Reads through our descriptor, which still works
    /// after the watchdog removed an ephemeral cluster's directory.
    fn tail(&self) -> String {
        let mut text = Vec::new();
        let mut file = &self.file;
        if file.seek(SeekFrom::Start(self.start)).is_err() || file.read_to_end(&mut text).is_err() {
            return "(could not read the log)".into();
        }
        last_lines(&String::from_utf8_lossy(&text), LOG_TAIL_LINES)
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The port of a server still running on the persistent cluster in `data`, once it accepts
/// connections; `None` when no server runs there (a stale pid file is postgres' business).
fn attach_port(data: &Path) -> Result<Option<u16>> {
    let pid_file = data.join("postmaster.pid");
    let deadline = Instant::now() + START_TIMEOUT;
    let mut bin = None;
    loop {
        let Some((pid, port)) = read_pid_file(&pid_file)? else {
            return Ok(None);
        };
        if !process_alive(pid) {
            return Ok(None);
        }
        if !looks_like_postgres(pid) {
            // postgres treats a live pid as a running server and would refuse to start; after
            // a reboot or in a container the pid may well belong to something else now.
            tracing::warn!(pid, file = %pid_file.display(), "removing a stale PostgreSQL pid file: that pid is not postgres");
            fs::remove_file(&pid_file).map_err(io_err("remove", &pid_file))?;
            return Ok(None);
        }
        let bin = match &bin {
            Some(bin) => bin,
            None => bin.insert(find_bin_dir(read_pg_version(data).as_deref())?),
        };
        if is_ready(bin, port) {
            return Ok(Some(port));
        }
        // Starting up or shutting down: wait for either outcome.
        if Instant::now() >= deadline {
            return Err(EmbeddedError::Unresponsive {
                pid,
                port,
                dir: data.to_path_buf(),
            });
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Pid (line 1) and port (line 4) from `postmaster.pid`, if the file exists.
fn read_pid_file(path: &Path) -> Result<Option<(i32, u16)>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("read", path)(e)),
    };
    let mut lines = text.lines();
    let bad = |reason| EmbeddedError::BadPidFile {
        path: path.to_path_buf(),
        reason,
    };
    let pid = match lines.next() {
        // postgres writes the file in steps; a server this young is not ready anyway.
        None => return Ok(None),
        Some(line) => line.trim().parse().map_err(|_| bad("no pid on line 1"))?,
    };
    let port = match lines.nth(2) {
        None => return Ok(None),
        Some(line) => line.trim().parse().map_err(|_| bad("no port on line 4"))?,
    };
    Ok(Some((pid, port)))
}

fn process_alive(pid: i32) -> bool {
    // EPERM: alive, but owned by another user (the server user, when we are not root).
    pid > 0 && !matches!(signal::kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// False only when we can tell that `pid` runs something other than postgres.
fn looks_like_postgres(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => matches!(comm.trim(), "postgres" | "postmaster"),
        Err(_) => true,
    }
}

fn is_ready(bin: &Path, port: u16) -> bool {
    let mut cmd = Command::new(bin.join("pg_isready"));
    cmd.args([
        "-q",
        "-h",
        "127.0.0.1",
        "-t",
        "2",
        "-U",
        SUPERUSER,
        "-d",
        "postgres",
    ])
    .arg("-p")
    .arg(port.to_string());
    client_env(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    matches!(cmd.status(), Ok(status) if status.success())
}

/// Creates the application database unless it exists.
fn ensure_database(bin: &Path, port: u16, database: &str) -> Result<()> {
    let exists = || -> Result<bool> {
        let sql = format!(
            "select 1 from pg_database where datname = {}",
            quote_literal(database)
        );
        let out = psql(bin, port, &sql)?;
        if !out.status.success() {
            return Err(EmbeddedError::CreateDatabase {
                database: database.into(),
                output: combined(&out),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim() == "1")
    };
    if exists()? {
        return Ok(());
    }
    let out = psql(
        bin,
        port,
        &format!("CREATE DATABASE {}", quote_ident(database)),
    )?;
    // Another process may have created it in the meantime.
    if out.status.success() || exists()? {
        tracing::info!(database, "created the database");
        return Ok(());
    }
    Err(EmbeddedError::CreateDatabase {
        database: database.into(),
        output: combined(&out),
    })
}

fn psql(bin: &Path, port: u16, sql: &str) -> Result<Output> {
    let mut cmd = Command::new(bin.join("psql"));
    // -X: no ~/.psqlrc; -At: bare values.
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", "127.0.0.1", "-U", SUPERUSER, "-d", "postgres"])
        .arg("-p")
        .arg(port.to_string())
        .arg("-c")
        .arg(sql);
    output(&mut cmd)
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a URL path segment).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A port nobody listens on right now. Another process may take it before postgres binds
/// it; `start` retries then.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(io_err("bind a port on", Path::new("127.0.0.1")))?;
    let port = listener
        .local_addr()
        .map_err(io_err("bind a port on", Path::new("127.0.0.1")))?
        .port();
    Ok(port)
}

/// Runs server programs as the server user when we are root.
fn as_user(cmd: &mut Command, run_as: Option<RunAs>) {
    client_env(cmd);
    if let Some(r) = run_as {
        // std drops root's supplementary groups when it switches uid.
        cmd.uid(r.uid).gid(r.gid);
    }
}

/// Keeps the environment from redirecting our tools: PGHOST, PGPORT, PGDATA, PGSERVICE,
/// PGOPTIONS and friends would override or add to what we pass. The working directory
/// becomes `/`, which the server user can enter whatever ours is (/root, say).
fn client_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir("/");
}

/// Runs to completion with stdin closed, capturing the output.
fn output(cmd: &mut Command) -> Result<Output> {
    client_env(cmd);
    cmd.output().map_err(|source| EmbeddedError::Spawn {
        program: cmd.get_program().into(),
        source,
    })
}

fn combined(out: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    last_lines(text.trim_end(), 40)
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => status.to_string(),
    }
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EmbeddedError {
    let path = path.to_path_buf();
    move |source| EmbeddedError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io::{BufRead, BufReader},
        os::unix::fs::PermissionsExt,
    };

    use super::*;

    fn opts(dir: &Path, ephemeral: bool) -> EmbeddedOptions {
        EmbeddedOptions {
            dir: dir.to_path_buf(),
            ephemeral,
            database: "app".into(),
            max_connections: 20,
        }
    }

    /// A temporary directory the server user can traverse (as root the server runs as
    /// `postgres`; tempdirs may be 0700).
    fn reachable_tempdir() -> tempfile::TempDir {
        let tmp = tempfile::Builder::new()
            .prefix("salgate-embedded-")
            .tempdir()
            .unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        tmp
    }

    /// Runs `sql` through psql against `url`, returning trimmed stdout.
    fn query(url: &str, sql: &str) -> String {
        let bin = find_bin_dir(None).unwrap();
        let out = output(Command::new(bin.join("psql")).args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ]))
        .unwrap();
        assert!(out.status.success(), "psql failed: {}", combined(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn postmaster_pid(data: &Path) -> i32 {
        read_pid_file(&data.join("postmaster.pid"))
            .unwrap()
            .expect("postmaster.pid")
            .0
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn ephemeral_cluster_serves_queries_and_is_removed_on_stop() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cluster");
        let pg = EmbeddedPostgres::start(opts(&dir, true)).unwrap();
        assert_ne!(pg.port(), 5432);
        assert_eq!(
            pg.database_url(),
            format!("postgres://salgate@127.0.0.1:{}/app", pg.port())
        );
        assert_eq!(query(&pg.database_url(), "select 1"), "1");
        assert_eq!(query(&pg.url_for("postgres"), "show fsync"), "off");
        assert_eq!(query(&pg.url_for("postgres"), "show max_connections"), "20");
        let pid = postmaster_pid(&dir.join("data"));

        pg.stop().unwrap();
        assert!(!process_alive(pid), "postgres {pid} still running");
        assert!(!dir.exists(), "{} not removed", dir.display());
    }

    #[test]
    fn dropping_the_handle_stops_the_cluster() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cluster");
        let pg = EmbeddedPostgres::start(opts(&dir, true)).unwrap();
        let pid = postmaster_pid(&dir.join("data"));
        drop(pg);
        wait_until("postgres is gone", || !process_alive(pid));
        wait_until("the directory is removed", || !dir.exists());
    }

    #[test]
    fn persistent_cluster_keeps_its_data_across_restarts() {
        let tmp = reachable_tempdir();
        let dir = tmp.path().join("data").join("postgres");

        let first = EmbeddedPostgres::start(opts(&dir, false)).unwrap();
        query(
            &first.database_url(),
            "create table kept (v text); insert into kept values ('survives')",
        );
        let pid = postmaster_pid(&dir);
        first.stop().unwrap();
        assert!(!process_alive(pid));
        assert!(dir.join("PG_VERSION").exists(), "cluster removed");
        assert!(!dir.join("postmaster.pid").exists());
        assert!(tmp.path().join("data/postgres.log").exists());

        let second = EmbeddedPostgres::start(opts(&dir, false)).unwrap();
        assert_eq!(
            query(&second.database_url(), "select v from kept"),
            "survives"
        );
        second.stop().unwrap();
    }

    #[test]
    fn second_start_attaches_to_the_running_cluster() {
        let tmp = reachable_tempdir();
        let dir = tmp.path().join("postgres");
        let owner = EmbeddedPostgres::start(opts(&dir, false)).unwrap();
        let pid = postmaster_pid(&dir);

        let mut other = opts(&dir, false);
        other.database = "other".into();
        let attached = EmbeddedPostgres::start(other).unwrap();
        assert_eq!(attached.port(), owner.port());
        assert_eq!(postmaster_pid(&dir), pid, "a second server was started");
        // The attaching side still gets its database.
        assert_eq!(
            query(&attached.database_url(), "select current_database()"),
            "other"
        );

        // Not ours to stop.
        attached.stop().unwrap();
        assert!(process_alive(pid));
        assert_eq!(query(&owner.database_url(), "select 1"), "1");
        owner.stop().unwrap();
        assert!(!process_alive(pid));
    }

    #[test]
    fn stale_pid_file_does_not_block_start() {
        let tmp = reachable_tempdir();
        let dir = tmp.path().join("postgres");
        EmbeddedPostgres::start(opts(&dir, false))
            .unwrap()
            .stop()
            .unwrap();
        // As if the machine had crashed: our own pid is alive and is not postgres.
        let fake = format!(
            "{}\n{}\n0\n1\n\n127.0.0.1\n",
            std::process::id(),
            dir.display()
        );
        fs::write(dir.join("postmaster.pid"), fake).unwrap();
        let pg = EmbeddedPostgres::start(opts(&dir, false)).unwrap();
        assert_ne!(pg.port(), 1);
        assert_eq!(query(&pg.database_url(), "select 1"), "1");
        pg.stop().unwrap();
    }

    #[test]
    fn unreachable_directory_as_root_names_it() {
        if !unistd::geteuid().is_root() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let err = EmbeddedPostgres::start(opts(&tmp.path().join("postgres"), false))
            .err()
            .expect("start must fail");
        let message = err.to_string();
        assert!(
            matches!(&err, EmbeddedError::NotAccessible { dir, .. } if dir == tmp.path()),
            "{message}"
        );
        assert!(message.contains("SALGATE_DATA_DIR"), "{message}");
    }

    #[test]
    fn ephemeral_refuses_a_directory_with_other_files() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("precious.txt"), "x").unwrap();
        let err = EmbeddedPostgres::start(opts(tmp.path(), true))
            .err()
            .expect("start must fail");
        assert!(matches!(err, EmbeddedError::NotEmpty { .. }), "{err}");
        assert!(tmp.path().join("precious.txt").exists());
    }

    const OWNER_ENV: &str = "SALGATE_EMBEDDED_TEST_OWNER_DIR";

    /// Not a test by itself: the owner process of `killed_owner_takes_the_cluster_along`.
    #[test]
    #[ignore = "helper process for killed_owner_takes_the_cluster_along"]
    fn owner_process() {
        let Some(dir) = std::env::var_os(OWNER_ENV) else {
            return;
        };
        let pg = EmbeddedPostgres::start(opts(Path::new(&dir), true)).unwrap();
        println!("READY {}", pg.port());
        thread::sleep(Duration::from_secs(600));
    }

    #[test]
    fn killed_owner_takes_the_cluster_along() {
        // Directly in the sticky, world-writable temp dir, like the API test harness: as root
        // the watchdog runs as `postgres`, which can only remove a directory whose parent it
        // may write in.
        let dir =
            std::env::temp_dir().join(format!("salgate-embedded-killed-{}", std::process::id()));
        let mut owner = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "db::embedded::tests::owner_process",
                "--include-ignored",
                "--nocapture",
            ])
            .env(OWNER_ENV, &dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(owner.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("owner exited early").unwrap();
            if let Some(port) = line.strip_prefix("READY ") {
                break port.to_string();
            }
        };
        let url = format!("postgres://salgate@127.0.0.1:{port}/app");
        assert_eq!(query(&url, "select 1"), "1");
        let pid = postmaster_pid(&dir.join("data"));

        owner.kill().unwrap(); // SIGKILL: no destructor runs.
        owner.wait().unwrap();
        wait_until("postgres is gone", || !process_alive(pid));
        wait_until("the directory is removed", || !dir.exists());
    }

    #[test]
    fn helpers() {
        assert_eq!(percent_encode("t_01ab"), "t_01ab");
        assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("", 2), "");

        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("postmaster.pid");
        assert!(read_pid_file(&path).unwrap().is_none());
        fs::write(&path, "4242\n/x\n1700000000\n54321\n\n127.0.0.1\n").unwrap();
        assert_eq!(read_pid_file(&path).unwrap(), Some((4242, 54321)));
        fs::write(&path, "4242\n/x\n").unwrap();
        assert_eq!(read_pid_file(&path).unwrap(), None);
        fs::write(&path, "nope\n").unwrap();
        assert!(read_pid_file(&path).is_err());
    }
}
