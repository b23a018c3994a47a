//! A cluster for tools (`salgate db start` / `salgate db stop`, the ingest benchmark): set up
//! exactly as the service's (same directory layout, passwords, roles, database), but postgres is
//! not tied to the process that started it: it runs until `salgate db stop`. Its output goes
//! straight to `postgres.log` (mode 0600, not rotated: such clusters are short-lived).

use std::{
    fs::{self, OpenOptions},
    os::unix::{fs::OpenOptionsExt, process::CommandExt},
    path::Path,
    process::{Child, ChildStdin, Stdio},
    time::{Duration, Instant},
};

use nix::{sys::signal, unistd::Pid};

use super::{
    io, location, running_port, server, EmbeddedError, EmbeddedOptions, EmbeddedPostgres, Launch,
    FALLBACK_ROOT,
};

/// How long `stop_detached` waits for postgres to exit.
const STOP_WAIT: Duration = Duration::from_secs(30);

impl EmbeddedPostgres {
    /// Starts the cluster under `opts.dir` (or attaches to the one running there, whose
    /// settings then stay as they are), adding `settings` (`name=value`, as `postgres -c`) to
    /// the server's. The handle does not own it: dropping it leaves the cluster running.
    pub fn start_detached(
        opts: EmbeddedOptions,
        settings: &[String],
    ) -> Result<Self, EmbeddedError> {
        if let Some(bad) = settings.iter().find(|s| !s.contains('=')) {
            return Err(EmbeddedError::Command {
                action: "starting postgres".into(),
                detail: format!("`{bad}` is not a name=value server setting"),
            });
        }
        Self::launch(
            opts,
            Path::new(FALLBACK_ROOT),
            Launch::Detached(settings.to_vec()),
        )
    }

    /// Stops the cluster under `dir` (fast shutdown: sessions are ended, nothing is lost) and
    /// waits for postgres to exit; `false` when none was running there.
    pub fn stop_detached(dir: &Path) -> Result<bool, EmbeddedError> {
        if !dir.is_dir() {
            return Ok(false);
        }
        let cluster = location::cluster_dir(dir, location::run_as()?, Path::new(FALLBACK_ROOT))?;
        let pid_file = cluster.join("pgdata").join("postmaster.pid");
        if running_port(&cluster.join("pgdata")).is_none() {
            return Ok(false);
        }
        let pid = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse::<i32>().ok());
        let Some(pid) = pid else {
            return Ok(false);
        };
        signal::kill(Pid::from_raw(pid), signal::Signal::SIGINT).map_err(|e| {
            EmbeddedError::Command {
                action: "stopping postgres".into(),
                detail: e.to_string(),
            }
        })?;
        // postgres removes its pid file last on a clean shutdown.
        let started = Instant::now();
        while pid_file.exists() {
            if started.elapsed() > STOP_WAIT {
                return Err(EmbeddedError::Command {
                    action: "stopping postgres".into(),
                    detail: format!("it did not exit within {STOP_WAIT:?}"),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(true)
    }
}

/// Starts postgres in a process group of its own (a terminal's Ctrl-C to the tool does not
/// reach it), writing to the log. Its stdin is a pipe it never reads: the handle needs one.
pub(super) fn spawn(
    bin: &Path,
    dir: &Path,
    user: Option<(u32, u32)>,
    port: u16,
    opts: &EmbeddedOptions,
    settings: &[String],
) -> Result<(Child, ChildStdin), EmbeddedError> {
    let mut args = server::server_args(dir, port, opts);
    for s in settings {
        args.extend(["-c".to_string(), s.clone()]);
    }
    let log_path = dir.join("postgres.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .map_err(io(format!("opening {}", log_path.display())))?;
    let err = log.try_clone().map_err(io("opening the log"))?;
    let mut c = server::command(bin, "postgres", user);
    c.args(&args)
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(err)
        .process_group(0);
    let mut child = c.spawn().map_err(io("starting postgres"))?;
    let Some(stdin) = child.stdin.take() else {
        return Err(EmbeddedError::Command {
            action: "starting postgres".into(),
            detail: "no stdin pipe".into(),
        });
    };
    Ok((child, stdin))
}
