//! Reports and listings from a read replica (`DATABASE_READ_URL`): with the standby's replay
//! paused, leads ingested on the primary are missing from the report and the listing (they
//! were read on the replica) but `GET /v1/leads/{id}` has them (the primary); the report says
//! it read the replica and how old its data is; once the replica is stopped, the same report
//! reads the primary and says why.

use std::time::Duration;

use salgate::domain::Role;
use serde_json::Value;

use super::{
    free_port, metrics_page, post_lead, sample,
    streaming::{eventually, Node},
    wait_ready, Service,
};

struct Client {
    http: reqwest::Client,
    base: String,
    ingest: String,
    revops: String,
}

impl Client {
    async fn ingest(&self, external_id: &str) -> String {
        let lead = crate::helpers::lead(external_id);
        let res = post_lead(&self.http, &self.base, &self.ingest, &lead, None)
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "ingest {external_id}");
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.revops)
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }

    /// Today's acceptance report (the whole day, so every lead ingested now is in it).
    async fn report(&self) -> Value {
        let today = chrono::Utc::now().date_naive();
        let path = format!(
            "/v1/metrics/acceptance?from={today}&to={}",
            today + chrono::Days::new(1)
        );
        let (status, body) = self.get(&path).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn listed(&self) -> usize {
        let (status, body) = self.get("/v1/leads?limit=100").await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().len()
    }
}

async fn key(url: &str, role: Role) -> String {
    let pool = salgate::db::connect(url, 1).await.unwrap();
    let (_, token) = salgate::db::api_keys::create(&pool, role, None, "t", chrono::Utc::now())
        .await
        .unwrap();
    pool.close().await;
    token
}

#[tokio::test]
async fn reports_read_the_replica_and_fall_back_to_the_primary_when_it_stops() {
    let primary = Node::primary(false).await;
    let mut standby = Node::standby_of(&primary).await;
    let service = Service::start(
        &primary.app_url(),
        free_port(),
        &[
            ("DATABASE_READ_URL", &standby.app_url()),
            ("SALGATE_READ_MAX_LAG", "1h"),
            ("SALGATE_READ_LAG_INTERVAL", "100ms"),
        ],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    wait_ready(&http, &service.base).await;
    let c = Client {
        http,
        base: service.base.clone(),
        ingest: key(&primary.app_url(), Role::Ingest).await,
        revops: key(&primary.app_url(), Role::Admin).await,
    };
    for i in 0..3 {
        c.ingest(&format!("seen-{i}")).await;
    }
    eventually("the replica has the first three leads", async || {
        let r = c.report().await;
        r["total"]["routed"] == 3 && r["freshness"]["source"] == "replica"
    })
    .await;

    // Replay paused: what the primary commits from now on is not on the replica.
    let on_standby = salgate::db::connect(&standby.app_url(), 1).await.unwrap();
    sqlx::raw_sql("SELECT pg_wal_replay_pause()")
        .execute(&on_standby)
        .await
        .unwrap();
    on_standby.close().await;
    let unseen = c.ingest("unseen-0").await;
    c.ingest("unseen-1").await;
    let (status, lead) = c.get(&format!("/v1/leads/{unseen}")).await;
    assert_eq!(
        (status, &lead["id"]),
        (reqwest::StatusCode::OK, &Value::from(unseen.clone())),
        "a lead right after its ingest is read on the primary"
    );
    let r = c.report().await;
    assert_eq!(
        r["total"]["routed"], 3,
        "the report read the paused replica: {r}"
    );
    assert_eq!(r["freshness"]["source"], "replica");
    assert!(r["freshness"].get("fallback").is_none(), "{r}");
    assert_eq!(c.listed().await, 3, "the listing read the paused replica");
    // The lag shows once the probe has seen the primary move on.
    eventually("a lag above 0 on /metrics", async || {
        let page = metrics_page(&c.http, &c.base).await;
        sample(&page, "salgate_replica_lag_seconds").is_some_and(|s| s > 0.0)
            && sample(&page, "salgate_reads_from{source=\"replica\"}") == Some(1.0)
    })
    .await;
    let r = c.report().await;
    let lag = r["freshness"]["lag_seconds"].as_f64().unwrap();
    assert!(lag > 0.0, "a paused replica's data is older than now: {r}");

    standby.stop();
    let r = c.report().await;
    assert_eq!(r["total"]["routed"], 5, "the primary has every lead: {r}");
    assert_eq!(r["freshness"]["source"], "primary");
    assert_eq!(r["freshness"]["fallback"], "replica_down");
    assert_eq!(c.listed().await, 5, "listings fall back too");
    let page = metrics_page(&c.http, &c.base).await;
    assert_eq!(
        sample(&page, "salgate_reads_from{source=\"primary\"}"),
        Some(1.0)
    );
}
