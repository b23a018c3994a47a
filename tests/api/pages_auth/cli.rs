//! `salgate users invite`: the real binary, against the test app's database.

use std::process::Output;

use super::Visitor;
use crate::helpers::spawn_app;

fn salgate(url: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_salgate"))
        .args(args)
        .env("DATABASE_URL", url)
        .env_remove("SALGATE_CONFIG")
        .env_remove("SALGATE_PUBLIC_URL")
        .env("SALGATE_LOG", "error")
        .output()
        .expect("run the salgate binary")
}

#[tokio::test]
async fn users_invite_prints_a_link_alone_on_its_last_line_and_the_link_signs_the_rep_in() {
    let app = spawn_app().await;
    let out = salgate(
        &app.database_url,
        &["users", "invite", "--role", "sdr", "--rep", "rep-1"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().last().expect("a last line");
    let (base, token) = line
        .split_once("/app/login/")
        .unwrap_or_else(|| panic!("the last line is the link alone: {stdout:?}"));
    assert!(base.starts_with("http://") && !base.contains(' '), "{line}");
    assert!(token.starts_with("sl_") && token.len() == 46, "{line}");
    assert_eq!(stdout.matches(token).count(), 1, "printed once: {stdout:?}");
    assert!(stdout.contains("rep-1 (sdr)"), "{stdout}");

    let v = Visitor::new(&app);
    v.sign_in_with_link(token).await;
    let home = v.get("/app").await.text().await.unwrap();
    assert!(home.contains("rep-1 (sdr)"), "{home}");
    let who: (String, Option<String>) = sqlx::query_as("SELECT role, rep_id FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(who, ("sdr".into(), Some("rep-1".into())));
}

#[tokio::test]
async fn users_invite_refuses_ingest_and_an_sdr_without_a_rep_saying_why() {
    let app = spawn_app().await;
    for (args, says) in [
        (vec!["--role", "ingest"], "ingest is for CRMs"),
        (vec!["--role", "sdr"], "--rep"),
        (vec!["--role", "revops", "--rep", "rep-1"], "--rep"),
        (vec!["--role", "boss"], "sdr, revops, admin"),
    ] {
        let mut all = vec!["users", "invite"];
        all.extend(&args);
        let out = salgate(&app.database_url, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}: no link printed");
    }
    assert_eq!(app.count("sign_in_links").await, 0);
}
