//! Who can get into the cluster: nobody without the password (another local user cannot read
//! it), the service's role is not a superuser, old trust clusters are upgraded on start, and
//! as root a data dir the `postgres` user cannot reach gets its cluster elsewhere.

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    process::Output,
};

use sqlx::{Connection, PgConnection};

use super::tests::{dir_for_test, options_for_test};
use super::*;

const NOBODY: (u32, u32) = (65534, 65534);

async fn start(opts: EmbeddedOptions) -> EmbeddedPostgres {
    tokio::task::spawn_blocking(move || EmbeddedPostgres::start(opts))
        .await
        .unwrap()
        .expect("start the cluster")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// psql with no password at hand, as `user` (or us), asking for a password is refused.
fn psql_without_password(port: u16, role: &str, user: Option<(u32, u32)>) -> Output {
    let bin = server::bin_dir().unwrap();
    let mut c = server::command(&bin, "psql", user);
    c.args(["-X", "-w", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", role, "-d", "postgres", "-c", "SELECT 1"])
        .env("PGPASSFILE", "/nonexistent")
        .env_remove("PGPASSWORD");
    c.output().unwrap()
}

fn assert_refused(out: Output, who: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{who} got in");
    // The server asked for a password: it was reached, and trust did not let it in.
    assert!(stderr.contains("no password supplied"), "{who}: {stderr}");
}

/// No trust line, only SCRAM, the password file 0600 and ours, the directories 0700, the log
/// 0600: what a cluster looks like after every start.
fn assert_locked_down(pg: &EmbeddedPostgres) {
    let hba = fs::read_to_string(pg.data_dir().join("pg_hba.conf")).unwrap();
    let rules: Vec<&str> = hba
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    assert!(!rules.is_empty());
    for rule in rules {
        assert!(rule.ends_with("scram-sha-256"), "pg_hba.conf: {rule}");
    }
    let passwords = pg.cluster_dir().join(PASSWORD_FILE);
    assert_eq!(mode(&passwords), 0o600);
    let owner = fs::metadata(&passwords).unwrap().uid();
    assert_eq!(owner, nix::unistd::Uid::effective().as_raw());
    assert_eq!(mode(pg.cluster_dir()), 0o700);
    assert_eq!(mode(pg.data_dir()), 0o700);
    assert_eq!(mode(&pg.cluster_dir().join("postgres.log")), 0o600);
    for role in [APP_ROLE, ADMIN_ROLE, "postgres"] {
        assert_refused(psql_without_password(pg.port(), role, None), role);
    }
}

/// As the service's role: not a superuser, cannot run programs, make roles or databases; owns
/// its database.
async fn assert_app_role_is_unprivileged(url: &str) {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let (user, superuser): (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((user.as_str(), superuser), (APP_ROLE, false));
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(owner, APP_ROLE);
    sqlx::query("CREATE TEMP TABLE out (line text)")
        .execute(&mut conn)
        .await
        .unwrap();
    for refused in [
        "COPY out FROM PROGRAM 'id'",
        "CREATE ROLE intruder SUPERUSER",
        "CREATE DATABASE intruder",
        "UPDATE pg_authid SET rolsuper = true WHERE rolname = current_user",
    ] {
        let err = sqlx::query(refused).execute(&mut conn).await.unwrap_err();
        let code = err.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("42501"), "{refused}: {err}");
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn no_one_gets_in_without_the_password_and_the_service_role_is_not_a_superuser() {
    let pg = start(options_for_test("locked", true)).await;
    assert_locked_down(&pg);
    assert_app_role_is_unprivileged(&pg.database_url()).await;

    if nix::unistd::Uid::effective().is_root() {
        // Another local user: cannot read the passwords, and without them is refused.
        let file = pg.cluster_dir().join(PASSWORD_FILE);
        let cat = server::command(Path::new("/bin"), "cat", Some(NOBODY))
            .arg(&file)
            .output()
            .unwrap();
        assert!(!cat.status.success(), "nobody read {}", file.display());
        for role in [APP_ROLE, ADMIN_ROLE, "postgres"] {
            assert_refused(psql_without_password(pg.port(), role, Some(NOBODY)), role);
        }
    } else {
        eprintln!("not root: the check as another user (nobody) needs root and did not run");
    }
    pg.stop().unwrap();
}

/// A cluster as versions before passwords made it: `initdb -U salgate --auth=trust`, the
/// service's database made and migrated by that bootstrap superuser, a sequence made at run
/// time (as round-robin queues do) and a key; then stopped. Returns the data dir.
async fn old_trust_cluster(opts: &EmbeddedOptions) -> PathBuf {
    let bin = server::bin_dir().unwrap();
    let user = location::run_as().unwrap();
    let dir = location::cluster_dir(&opts.dir, user, Path::new(FALLBACK_ROOT)).unwrap();
    let data = dir.join("pgdata");
    let mut initdb = server::command(&bin, "initdb", user);
    initdb.arg("-D").arg(&data);
    initdb.args([
        "-U",
        "salgate",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    server::run(initdb, "initdb").unwrap();
    let port = free_port().unwrap();
    let pg_ctl = |action: &str| {
        let mut c = server::command(&bin, "pg_ctl", user);
        c.arg("-D").arg(&data).args(["-w", "-m", "fast", action]);
        let options =
            format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=");
        c.args(["-o", &options]);
        c.arg("-l").arg(dir.join("postgres.log"));
        server::run(c, action).unwrap();
    };
    pg_ctl("start");
    let url = |db: &str| format!("postgres://salgate@127.0.0.1:{port}/{db}");
    let mut conn = PgConnection::connect(&url("postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {}", opts.database))
        .execute(&mut conn)
        .await
        .unwrap();
    let pool = crate::db::connect(&url(&opts.database), 1).await.unwrap();
    crate::db::migrate(&pool).await.unwrap();
    sqlx::query("CREATE SEQUENCE turns_old")
        .execute(&pool)
        .await
        .unwrap();
    let role = crate::domain::Role::Admin;
    crate::db::api_keys::create(&pool, role, None, "old", chrono::Utc::now())
        .await
        .unwrap();
    pool.close().await;
    pg_ctl("stop");
    fs::set_permissions(dir.join("postgres.log"), fs::Permissions::from_mode(0o644)).unwrap();
    data
}

#[tokio::test]
async fn an_old_trust_cluster_is_locked_down_on_start_and_keeps_its_data() {
    let opts = options_for_test("old-trust", false);
    old_trust_cluster(&opts).await;

    let pg = start(opts.clone()).await;
    assert_locked_down(&pg);
    let url = pg.database_url();
    assert_app_role_is_unprivileged(&url).await;
    // The old bootstrap superuser can no longer log in at all.
    assert_refused(
        psql_without_password(pg.port(), "salgate_bootstrap", None),
        "old",
    );
    let bootstrap: (String, bool) =
        sqlx::query_as("SELECT rolname::text, rolcanlogin FROM pg_roles WHERE oid = 10")
            .fetch_one(&mut PgConnection::connect(&url).await.unwrap())
            .await
            .unwrap();
    assert_eq!(bootstrap, ("salgate_bootstrap".to_string(), false));

    // The data is the service's own now: it reads it, runs migrations, alters tables (as a
    // migration would), uses the sequence and the trigger functions.
    let pool = crate::db::connect(&url, 1).await.unwrap();
    crate::db::migrate(&pool).await.unwrap();
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(keys, 1);
    sqlx::query("SELECT nextval('turns_old')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("ALTER TABLE api_keys ADD COLUMN upgraded int")
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace
                 WHERE relowner = 10 AND nspname = 'public')
              + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = pronamespace
                 WHERE proowner = 10 AND nspname = 'public')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "objects still owned by the bootstrap superuser");
    pool.close().await;

    // A second start finds it upgraded and changes nothing that matters.
    pg.stop().unwrap();
    let pg = start(opts.clone()).await;
    assert_locked_down(&pg);
    assert_app_role_is_unprivileged(&pg.database_url()).await;
    pg.stop().unwrap();
    let _ = fs::remove_dir_all(&opts.dir);
}

#[test]
fn as_root_a_data_dir_the_postgres_user_cannot_reach_gets_its_cluster_elsewhere() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("not root: the `postgres` user only runs the cluster for root; not tested");
        return;
    }
    // Root's home on a fresh machine: 0700, a clone inside it.
    let home = dir_for_test("home");
    fs::create_dir_all(&home).unwrap();
    fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
    let fallback = dir_for_test("fallback");
    let opts = EmbeddedOptions {
        dir: home.join("clone/data/postgres"),
        ..options_for_test("unused", false)
    };

    let pg = EmbeddedPostgres::start_in(opts.clone(), &fallback).unwrap();
    let requested = opts.dir.canonicalize().unwrap();
    let expected = fallback.join(location::fallback_name(&requested));
    assert_eq!(pg.cluster_dir(), expected);
    let postgres = location::run_as().unwrap().unwrap();
    assert_eq!(fs::metadata(&expected).unwrap().uid(), postgres.0);
    assert_eq!(mode(&expected), 0o700);
    assert_eq!(mode(&home), 0o700, "the home directory was left as it was");
    let note = fs::read_to_string(requested.join(LOCATION_NOTE)).unwrap();
    assert!(note.contains(&expected.display().to_string()), "{note}");
    let psql = |pg: &EmbeddedPostgres, sql: &str| {
        let bin = server::bin_dir().unwrap();
        pg.admin_psql(&bin, &pg.database, sql).unwrap()
    };
    psql(
        &pg,
        "CREATE TABLE kept (x int); INSERT INTO kept VALUES (16)",
    );
    pg.stop().unwrap();

    // The next start (e.g. after a reboot) finds it there.
    let pg = EmbeddedPostgres::start_in(opts, &fallback).unwrap();
    assert_eq!(pg.cluster_dir(), expected);
    assert_eq!(psql(&pg, "SELECT x FROM kept").trim(), "16");
    pg.stop().unwrap();
    let _ = fs::remove_dir_all(&home);
    let _ = fs::remove_dir_all(&fallback);
}

#[test]
fn the_log_is_private_and_rotated_past_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("postgres.log");
    // Left readable by an older version.
    fs::write(&path, "old line\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let lines: String = (0..100).map(|i| format!("line {i:03}\n")).collect();
    log::pump(std::io::Cursor::new(lines), &path, 100);

    let current = fs::read_to_string(&path).unwrap();
    let previous = fs::read_to_string(log::rotated(&path)).unwrap();
    assert!(current.len() <= 100 && previous.len() <= 100);
    assert!(current.ends_with("line 099\n"), "{current}");
    assert!(previous.ends_with(&format!("line {:03}\n", 99 - current.lines().count())));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&log::rotated(&path)), 0o600);

    // Already over the cap when opened (a long-lived log from before): rotated first.
    fs::write(&path, "x".repeat(150)).unwrap();
    log::pump(std::io::Cursor::new("new\n"), &path, 100);
    assert_eq!(fs::read_to_string(&path).unwrap(), "new\n");
}

#[test]
fn the_password_file_is_generated_once_and_kept_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(PASSWORD_FILE);
    let first = Passwords::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    for pw in [&first.admin, &first.app] {
        assert!(pw.len() >= 32 && pw.chars().all(|c| c.is_ascii_alphanumeric()));
    }
    assert_ne!(first.admin, first.app);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let again = Passwords::load_or_create(&path).unwrap();
    assert_eq!(
        (again.admin, again.app),
        (first.admin.clone(), first.app.clone())
    );
    assert_eq!(mode(&path), 0o600);
    let read = Passwords::read(&path).unwrap();
    assert_eq!(read.app, first.app);
    assert!(Passwords::read(&dir.path().join("missing")).is_err());
}
