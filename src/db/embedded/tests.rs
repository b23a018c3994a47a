//! The cluster's life: start, attach, stop, restart after a crash.

use super::*;

fn psql_ok(pg: &EmbeddedPostgres, sql: &str) -> String {
    pg.admin_psql(&server::bin_dir().unwrap(), &pg.database, sql)
        .unwrap()
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
