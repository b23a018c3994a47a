//! Who may connect to the cluster: password (SCRAM) authentication only, with two roles whose
//! generated passwords are kept in a 0600 file in the cluster directory.
//!
//! - [`ADMIN_ROLE`], a superuser used only by this module's callers (creating the service's
//!   role and databases) and by test harnesses;
//! - [`APP_ROLE`], the service's: it logs in and owns its database, nothing more (no
//!   superuser, so no `COPY … FROM PROGRAM`, no writing to the catalogs).
//!
//! Clusters made before this (trust authentication, `salgate` the bootstrap superuser) are
//! brought to the same state on start; every step here is idempotent and runs on every start.

use std::{
    fs::{self, OpenOptions},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use rand::{distr::Alphanumeric, Rng};

use super::{io, EmbeddedError};

/// The superuser the cluster code uses.
pub const ADMIN_ROLE: &str = "salgate_admin";
/// The service's role.
pub const APP_ROLE: &str = "salgate";
/// What the bootstrap superuser of an old cluster (named `salgate`) is renamed to.
const OLD_BOOTSTRAP_ROLE: &str = "salgate_bootstrap";
/// The password file, in the cluster directory. Its lines are in libpq's password file format
/// (`*:*:*:role:password`), so `PGPASSFILE=<it> psql …` works for an operator too.
pub const PASSWORD_FILE: &str = "passwords";
const PASSWORD_LEN: usize = 40;

/// Only password authentication, on the loopback addresses the server listens on.
const PG_HBA: &str = "\
# Written by salgate on every start of its embedded cluster (edits are overwritten):
# password (SCRAM) authentication only. The passwords are in ../passwords.
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
";

#[derive(Clone)]
pub(super) struct Passwords {
    pub path: PathBuf,
    pub admin: String,
    pub app: String,
}

impl Passwords {
    /// The passwords of a cluster someone else started; it must have them already.
    pub fn read(path: &Path) -> Result<Passwords, EmbeddedError> {
        let text = fs::read_to_string(path).map_err(|_| EmbeddedError::NoPasswords(path.into()))?;
        match (lookup(&text, ADMIN_ROLE), lookup(&text, APP_ROLE)) {
            (Some(admin), Some(app)) => Ok(Passwords {
                path: path.into(),
                admin,
                app,
            }),
            _ => Err(EmbeddedError::NoPasswords(path.into())),
        }
    }

    /// The passwords in `path`, generating (and saving) any that are missing; the file is left
    /// mode 0600 either way.
    pub fn load_or_create(path: &Path) -> Result<Passwords, EmbeddedError> {
        let text = fs::read_to_string(path).unwrap_or_default();
        let (admin, app) = (lookup(&text, ADMIN_ROLE), lookup(&text, APP_ROLE));
        let complete = admin.is_some() && app.is_some();
        let passwords = Passwords {
            path: path.into(),
            admin: admin.unwrap_or_else(generate),
            app: app.unwrap_or_else(generate),
        };
        if complete {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
                .map_err(io(format!("chmod {}", path.display())))?;
        } else {
            passwords.save()?;
        }
        Ok(passwords)
    }

    /// Written to a new 0600 file renamed over the old one, so a reader never sees half.
    fn save(&self) -> Result<(), EmbeddedError> {
        let tmp = self.path.with_extension("new");
        let _ = fs::remove_file(&tmp);
        let text = format!(
            "*:*:*:{ADMIN_ROLE}:{}\n*:*:*:{APP_ROLE}:{}\n",
            self.admin, self.app
        );
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| fs::rename(&tmp, &self.path));
        written.map_err(io(format!("writing {}", self.path.display())))
    }
}

fn lookup(text: &str, role: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            ["*", "*", "*", r, pw] if *r == role && !pw.is_empty() => Some(pw.to_string()),
            _ => None,
        }
    })
}

/// 40 alphanumeric characters from the thread's CSPRNG (seeded by the OS): ~238 bits, and
/// nothing that needs escaping in SQL, URLs or the password file.
fn generate() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Replaces `pg_hba.conf` (whatever an older version or an edit put there), mode 0600 and
/// owned by `user` like the rest of the data directory.
pub(super) fn write_hba(data: &Path, user: Option<(u32, u32)>) -> Result<(), EmbeddedError> {
    let path = data.join("pg_hba.conf");
    let what = || format!("writing {}", path.display());
    fs::write(&path, PG_HBA).map_err(io(what()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(io(what()))?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).map_err(io(what()))?;
    }
    Ok(())
}

/// For the single-user backend (one statement per line), run as the bootstrap superuser
/// before the server starts: the admin role exists, is a superuser and has its password.
/// This is how a cluster gets its first password, and how an old one gets an admin at all.
pub(super) fn admin_sql(p: &Passwords) -> String {
    format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ADMIN_ROLE}') THEN \
         CREATE ROLE {ADMIN_ROLE}; END IF; END $$;\n\
         ALTER ROLE {ADMIN_ROLE} SUPERUSER LOGIN PASSWORD '{}';\n",
        p.admin
    )
}

/// Run as the admin: the service's role exists with its password and no more rights than it
/// needs. In an old cluster the bootstrap superuser (which owns the catalogs) was `salgate`:
/// it is renamed and can no longer log in, and a new `salgate` is made.
pub(super) fn app_role_sql(p: &Passwords) -> String {
    format!(
        "SET log_min_error_statement = panic;
        DO $$ BEGIN
          IF EXISTS (SELECT FROM pg_roles WHERE oid = 10 AND rolname = '{APP_ROLE}') THEN
            ALTER ROLE {APP_ROLE} RENAME TO {OLD_BOOTSTRAP_ROLE};
            ALTER ROLE {OLD_BOOTSTRAP_ROLE} NOLOGIN PASSWORD NULL;
          END IF;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE};
          END IF;
        END $$;
        ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
          NOBYPASSRLS PASSWORD '{}';\n",
        p.app
    )
}

/// Run as the admin in the `postgres` database: `database` exists and the service's role owns
/// it. `database` is quoted here; the caller checked nothing.
pub(super) fn database_sql(database: &str, exists: bool) -> String {
    let ident = quote_ident(database);
    if exists {
        format!("ALTER DATABASE {ident} OWNER TO {APP_ROLE};\n")
    } else {
        format!("CREATE DATABASE {ident} OWNER {APP_ROLE};\n")
    }
}

pub(super) fn database_exists_sql(database: &str) -> String {
    format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{}';\n",
        database.replace('\'', "''")
    )
}

/// Run as the admin in the service's database: what the bootstrap superuser owns outside the
/// system schemas (an old cluster's tables, sequences, functions, types, made when it was the
/// service's role) goes to the service's role. `REASSIGN OWNED` cannot do it: PostgreSQL does
/// not track what the bootstrap superuser owns. A no-op once done.
pub(super) fn transfer_sql() -> String {
    format!(
        r#"
DO $$
DECLARE
  r record;
  app constant text := '{APP_ROLE}';
BEGIN
  FOR r IN SELECT nspname FROM pg_namespace
      WHERE nspowner = 10 AND nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema' LOOP
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, app);
  END LOOP;
  -- Sequences owned by a column (identity, serial) follow their table.
  FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relowner = 10 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
        AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
        AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'S' THEN 'SEQUENCE'
      WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
      ELSE 'TABLE' END, r.name, app);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name, p.prokind FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.proowner = 10 AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.prokind WHEN 'a' THEN 'AGGREGATE'
      WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, r.name, app);
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS name FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE t.typowner = 10 AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
        AND (t.typtype IN ('e', 'd', 'r')
          OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', r.name, app);
  END LOOP;
END $$;
"#
    )
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
