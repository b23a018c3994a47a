//! Where the cluster lives, and as whom its server programs run.
//!
//! As root, `initdb` and `postgres` refuse to run, so they run as the `postgres` user, which
//! must be able to reach the cluster. A data dir under a 0700 directory (root's home on a fresh
//! machine) is out of its reach; rather than loosen the user's directories, the cluster then
//! lives under [`FALLBACK_ROOT`], in a directory named after the data dir, so every start
//! (and `salgate keys create`) finds the same one.

use std::{
    fs,
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use super::{io, server::command, EmbeddedError};

/// Parent of the clusters the `postgres` user could not reach where they were asked for.
pub const FALLBACK_ROOT: &str = "/var/lib/salgate";

/// The note left in the requested directory when the cluster lives elsewhere.
pub const LOCATION_NOTE: &str = "CLUSTER_LOCATION";

/// The uid/gid to run server programs as: the `postgres` user when we are root.
pub(super) fn run_as() -> Result<Option<(u32, u32)>, EmbeddedError> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(None);
    }
    match nix::unistd::User::from_name("postgres") {
        Ok(Some(u)) => Ok(Some((u.uid.as_raw(), u.gid.as_raw()))),
        Ok(None) => Err(EmbeddedError::NoPostgresUser("not found".into())),
        Err(e) => Err(EmbeddedError::NoPostgresUser(e.to_string())),
    }
}

/// The directory to hold the cluster asked for at `requested`: created if missing, mode 0700,
/// owned by `user` when there is one. That is `requested` itself unless `user` cannot reach
/// it, or a cluster for it already lives under `fallback_root`.
pub(super) fn cluster_dir(
    requested: &Path,
    user: Option<(u32, u32)>,
    fallback_root: &Path,
) -> Result<PathBuf, EmbeddedError> {
    fs::create_dir_all(requested).map_err(io(format!("creating {}", requested.display())))?;
    let canonical = requested
        .canonicalize()
        .map_err(io(format!("resolving {}", requested.display())))?;
    let dir = match user {
        None => canonical,
        Some(ids) => reachable_dir(canonical, ids, fallback_root)?,
    };
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
        .map_err(io(format!("chmod {}", dir.display())))?;
    Ok(dir)
}

fn reachable_dir(
    canonical: PathBuf,
    ids: (u32, u32),
    fallback_root: &Path,
) -> Result<PathBuf, EmbeddedError> {
    let relocated = fallback_root.join(fallback_name(&canonical));
    let parent = canonical.parent().unwrap_or(Path::new("/"));
    // A cluster already moved stays where it is, even if the data dir became reachable.
    if !relocated.join("pgdata").is_dir() && can_enter(parent, ids) {
        chown(&canonical, ids)?;
        return Ok(canonical);
    }
    fs::create_dir_all(&relocated).map_err(io(format!("creating {}", relocated.display())))?;
    chown(&relocated, ids)?;
    if !can_enter(fallback_root, ids) {
        return Err(EmbeddedError::Unreachable(relocated));
    }
    tracing::warn!(
        requested = %canonical.display(),
        cluster = %relocated.display(),
        "the `postgres` user cannot reach the data dir; the embedded PostgreSQL cluster lives elsewhere"
    );
    let note = format!(
        "The embedded PostgreSQL cluster for this directory lives in {}:\n\
         the `postgres` user, which runs it, cannot reach this directory.\n",
        relocated.display()
    );
    fs::write(canonical.join(LOCATION_NOTE), note)
        .map_err(io(format!("writing {}", canonical.display())))?;
    Ok(relocated)
}

/// The directory name under [`FALLBACK_ROOT`] for a data dir: a hash of its canonical path,
/// so it is the same on every start and differs between data dirs.
pub(super) fn fallback_name(canonical: &Path) -> String {
    let digest = Sha256::digest(canonical.as_os_str().as_bytes());
    hex::encode(&digest[..8])
}

/// Whether `ids` can enter `dir` (search permission on it and every directory above it).
fn can_enter(dir: &Path, ids: (u32, u32)) -> bool {
    let mut probe = command(Path::new("/usr/bin"), "test", Some(ids));
    probe.arg("-x").arg(dir);
    probe.status().map(|s| s.success()).unwrap_or(false)
}

fn chown(path: &Path, (uid, gid): (u32, u32)) -> Result<(), EmbeddedError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(io(format!("chown {}", path.display())))
}
