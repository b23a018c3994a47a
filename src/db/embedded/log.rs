//! The server's log: what postgres writes to stdout and stderr goes through a pipe to a thread
//! of ours that appends it to `postgres.log` (mode 0600 whoever runs the service) and rotates
//! it to `postgres.log.1` past [`LOG_CAP`], so the log never takes more than twice that.
//!
//! Why not PostgreSQL's logging collector: it rotates by size but never deletes old files, so
//! something would have to prune them anyway; and errors before it starts would still go to
//! stderr.

use std::{
    fs::{self, File, OpenOptions},
    io::{BufRead, BufReader, Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    thread::JoinHandle,
};

/// Size at which `postgres.log` is rotated.
pub const LOG_CAP: u64 = 10 * 1024 * 1024;

/// Copies `source` into the log at `path` on a thread of its own until `source` ends (every
/// holder of the pipe's other end exited).
pub(super) fn spawn(
    source: impl Read + Send + 'static,
    path: PathBuf,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("postgres-log".into())
        .spawn(move || pump(BufReader::new(source), &path, LOG_CAP))
}

/// Appends lines from `source` to `path`, rotating before a line would take it past `cap`.
/// Keeps reading when the file cannot be written: postgres must never block on a full pipe.
pub(super) fn pump(mut source: impl BufRead, path: &Path, cap: u64) {
    let mut out = open(path, cap);
    let mut line = Vec::new();
    loop {
        line.clear();
        if !matches!(source.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            return;
        }
        if matches!(&out, Some((_, size)) if *size > 0 && *size + line.len() as u64 > cap) {
            out = rotate(path).and_then(|()| open(path, cap));
        }
        let mut failed = false;
        if let Some((file, size)) = &mut out {
            match file.write_all(&line) {
                Ok(()) => *size += line.len() as u64,
                Err(e) => {
                    tracing::warn!(log = %path.display(), error = %e, "cannot write the PostgreSQL log; dropping it");
                    failed = true;
                }
            }
        }
        if failed {
            out = None;
        }
    }
}

/// The log opened for appending, mode 0600 (also when an older version left it readable),
/// with its size; rotated first when it is already over `cap`.
fn open(path: &Path, cap: u64) -> Option<(File, u64)> {
    let opened = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .and_then(|f| {
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            let size = f.metadata()?.len();
            Ok((f, size))
        });
    match opened {
        Ok((_, size)) if size > cap => rotate(path).and_then(|()| open(path, cap)),
        Ok(pair) => Some(pair),
        Err(e) => {
            tracing::warn!(log = %path.display(), error = %e, "cannot open the PostgreSQL log");
            None
        }
    }
}

/// `postgres.log` becomes `postgres.log.1` (replacing the previous one).
fn rotate(path: &Path) -> Option<()> {
    let old = rotated(path);
    match fs::rename(path, &old) {
        Ok(()) => Some(()),
        Err(e) => {
            tracing::warn!(log = %path.display(), error = %e, "cannot rotate the PostgreSQL log");
            None
        }
    }
}

pub(super) fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    PathBuf::from(name)
}
