//! Running the PostgreSQL programs: finding them, initdb and the single-user step that
//! secures a data directory, the server under its watchdog.

use std::{
    fs,
    io::Write,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    thread::JoinHandle,
};

use super::{auth, io, log, EmbeddedError, EmbeddedOptions, Passwords, ADMIN_ROLE};

pub(super) fn bin_dir() -> Result<PathBuf, EmbeddedError> {
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

pub(super) fn command(bin: &Path, program: &str, user: Option<(u32, u32)>) -> Command {
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

/// Runs `c` with `input` on its stdin (how SQL holding a password reaches psql or postgres:
/// never in argv, which `ps` shows to everyone).
pub(super) fn run_with_input(
    mut c: Command,
    input: &str,
    action: &str,
) -> Result<String, EmbeddedError> {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(io(action))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A child that exits early closes its end; its output says why.
        let _ = stdin.write_all(input.as_bytes());
    }
    finish(child.wait_with_output().map_err(io(action))?, action)
}

pub(super) fn run(mut c: Command, action: &str) -> Result<String, EmbeddedError> {
    finish(c.output().map_err(io(action))?, action)
}

fn finish(out: std::process::Output, action: &str) -> Result<String, EmbeddedError> {
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

/// A fresh data directory (initdb) or an existing one, made safe before the server starts:
/// mode 0700, our `pg_hba.conf`, and the admin role with the password from the file, set by
/// a single-user backend (no network, no authentication, so no moment of trust).
pub(super) fn prepare_data(
    bin: &Path,
    data: &Path,
    user: Option<(u32, u32)>,
    passwords: &Passwords,
    ephemeral: bool,
) -> Result<(), EmbeddedError> {
    if !data.join("PG_VERSION").is_file() {
        let mut initdb = command(bin, "initdb", user);
        // `reject` until the password below is set and our pg_hba.conf replaces initdb's.
        initdb.arg("-D").arg(data).args([
            "-U",
            ADMIN_ROLE,
            "--auth=reject",
            "-E",
            "UTF8",
            "--locale=C",
        ]);
        if ephemeral {
            initdb.arg("--no-sync");
        }
        run(initdb, "initdb")?;
    }
    fs::set_permissions(data, fs::Permissions::from_mode(0o700))
        .map_err(io(format!("chmod {}", data.display())))?;
    auth::write_hba(data, user)?;
    let mut single = command(bin, "postgres", user);
    single.arg("--single").arg("-D").arg(data);
    for setting in [
        "exit_on_error=on",
        // The statement holds the password: keep it out of the output.
        "log_min_error_statement=panic",
        "password_encryption=scram-sha-256",
    ] {
        single.args(["-c", setting]);
    }
    if ephemeral {
        single.args(["-c", "fsync=off"]);
    }
    single.arg("postgres");
    run_with_input(
        single,
        &auth::admin_sql(passwords),
        "setting the admin password",
    )?;
    Ok(())
}

/// The postmaster's arguments: loopback TCP only, no Unix socket, passwords stored as SCRAM.
pub(super) fn server_args(dir: &Path, port: u16, opts: &EmbeddedOptions) -> Vec<String> {
    let mut args = vec![
        "-D".to_string(),
        dir.join("pgdata").display().to_string(),
        "-p".into(),
        port.to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "unix_socket_directories=".into(),
        "-c".into(),
        "password_encryption=scram-sha-256".into(),
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
    args
}

/// Starts postgres on `port` under the watchdog (see the module's doc); its output goes to the
/// log pump. Returns the watchdog, its stdin and the pump.
pub(super) fn spawn(
    bin: &Path,
    dir: &Path,
    user: Option<(u32, u32)>,
    port: u16,
    opts: &EmbeddedOptions,
) -> Result<(Child, ChildStdin, JoinHandle<()>), EmbeddedError> {
    let args = server_args(dir, port, opts);
    // $0 = postgres binary, $1 = dir to remove afterwards ("" to keep). postgres writes to our
    // stdout (the log pump); the watchdog ends when postgres does; its stdin reader asks
    // postgres to stop.
    let script = r#"
        pg="$0"; cleanup="$1"; shift
        exec 3<&0
        "$pg" "$@" </dev/null 2>&1 &
        pid=$!
        { read -r _ignored <&3; kill -INT "$pid" 2>/dev/null; } >/dev/null 2>&1 &
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
        .arg(cleanup)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0);
    if let Some((uid, gid)) = user {
        watchdog.uid(uid).gid(gid);
    }
    let mut child = watchdog.spawn().map_err(io("starting postgres"))?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(EmbeddedError::Command {
            action: "starting postgres".into(),
            detail: "no pipe to the watchdog".into(),
        });
    };
    let pump = log::spawn(stdout, dir.join("postgres.log"))
        .map_err(io("starting the PostgreSQL log thread"))?;
    Ok((child, stdin, pump))
}
