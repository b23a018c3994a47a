//! `salgate keys create` and `salgate migrate` next to a running service with its embedded
//! cluster: they attach to that cluster (with the passwords from its file) instead of starting
//! another, and leave it running.

use std::{path::Path, process::Output};

use super::{cluster_dir, free_port, wait_ready, Service};

fn salgate(data_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_salgate"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("SALGATE_CONFIG")
        .env("SALGATE_DATA_DIR", data_dir)
        .env("SALGATE_LOG", "error")
        .output()
        .expect("run the salgate binary")
}

#[tokio::test]
async fn keys_create_and_migrate_attach_to_the_running_embedded_cluster() {
    let tmp = cluster_dir("salgate-cli-attach-");
    let client = reqwest::Client::new();
    let mut service = Service::start_embedded(tmp.path(), free_port());
    wait_ready(&client, &service.base).await;

    let out = salgate(
        tmp.path(),
        &["keys", "create", "--role", "ingest", "--name", "cli"],
    );
    assert!(
        out.status.success(),
        "keys create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.lines().last().expect("a token on the last line");
    let res = client
        .post(format!("{}/v1/leads", service.base))
        .bearer_auth(token)
        .json(&crate::helpers::lead("cli-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "the service accepts the key made by the CLI"
    );

    let out = salgate(tmp.path(), &["migrate"]);
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_ready(&client, &service.base).await;
    assert!(service.is_running(), "{}", service.errors());
}
