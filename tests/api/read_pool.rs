//! The read pool's rule end to end, on the injected clock: with `DATABASE_READ_URL` set (here
//! the primary's own database, which is never behind), reports read it while its last lag
//! measurement is recent enough, and the primary once that measurement is older than
//! `SALGATE_READ_MAX_LAG`; without it, every report says it read the primary. The real
//! streaming replica is in `faults::read_replica`.

use std::time::Duration;

use salgate::{clock::Clock, config::ReadReplicaSettings, domain::Role};

use crate::{helpers::spawn_app_with, metrics::report};

const ACCEPTANCE: &str = "/v1/metrics/acceptance?from=2026-03-01&to=2026-03-08";

#[tokio::test]
async fn a_report_reads_the_replica_until_its_last_measurement_is_too_old() {
    let app = spawn_app_with(|s| {
        s.read_replica = Some(ReadReplicaSettings {
            url: s.database_url.clone().unwrap(),
            max_lag: Duration::from_secs(30),
            // Only the measurement made at start-up: the test moves the clock past it.
            lag_interval: Duration::from_secs(3600),
        });
    })
    .await;
    let measured_at = app.clock.now();
    let r = report(&app, ACCEPTANCE).await;
    assert_eq!(r["freshness"]["source"], "replica", "{r}");
    assert_eq!(r["freshness"]["lag_seconds"], 0.0);
    assert!(r["freshness"].get("fallback").is_none());

    app.clock.advance(chrono::Duration::seconds(30));
    let r = report(&app, ACCEPTANCE).await;
    assert_eq!(r["freshness"]["source"], "replica");
    assert_eq!(r["freshness"]["lag_seconds"], 30.0);
    let as_of: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r["freshness"]["as_of"].clone()).unwrap();
    assert_eq!(as_of, measured_at);

    app.clock.advance(chrono::Duration::seconds(1));
    let res = app
        .get(ACCEPTANCE, &app.key(Role::Revops, None).await)
        .await;
    assert_eq!(res.headers()["salgate-read-from"], "primary");
    let r: serde_json::Value = res.json().await.unwrap();
    assert_eq!(r["freshness"]["source"], "primary");
    assert_eq!(r["freshness"]["fallback"], "replica_behind");
    assert_eq!(r["freshness"]["lag_seconds"], 0.0);
}

#[tokio::test]
async fn without_a_replica_reports_say_they_read_the_primary_now() {
    let app = spawn_app_with(|_| {}).await;
    let r = report(&app, ACCEPTANCE).await;
    assert_eq!(r["freshness"]["source"], "primary");
    assert!(r["freshness"].get("fallback").is_none(), "{r}");
    let as_of: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r["freshness"]["as_of"].clone()).unwrap();
    assert_eq!(as_of, app.clock.now());
}
