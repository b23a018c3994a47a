//! Synthetic histories: leads routed over the 100 days before the clock (so the time-based
//! holdout is the newest 20 days), each accepted or rejected as the test plants it.

use chrono::Duration;
use futures::{stream, StreamExt};
use rand::{rngs::StdRng, Rng, SeedableRng};
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use super::{model, train};
use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// What happens to a lead: accepted, or rejected with a code.
#[derive(Clone, Copy)]
pub enum Fate {
    Accept,
    Reject(&'static str),
}

/// A lead body with `title` and company `size`, routed `at`.
pub fn body(ext: &str, title: &str, size: u32, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "source": "hubspot", "external_id": ext, "lead_type": "demo_request",
        "email": format!("{ext}@example.com"), "title": title,
        "company": {"name": format!("Company {ext}"), "size": size},
        "owner": "rep-1", "routed_at": at.to_rfc3339(),
    })
}

/// Ingests `n` leads (`plant` gives each its body parts and fate, from a seeded generator),
/// routed evenly over the 100 days before the clock, then decides each as planted.
pub async fn plant(
    app: &TestApp,
    first: usize,
    n: usize,
    seed: u64,
    plant: impl Fn(&mut StdRng) -> (&'static str, u32, Fate),
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = app.clock.now();
    let ingest = app.key(Role::Ingest, None).await;
    let mut fates = Vec::with_capacity(n);
    let mut leads = Vec::with_capacity(n);
    for i in first..first + n {
        let (title, size, fate) = plant(&mut rng);
        let at = now - Duration::days(100)
            + Duration::minutes(144 * (i - first) as i64 * 1000 / n as i64);
        leads.push(body(&format!("m-{i}"), title, size, at));
        fates.push(fate);
    }
    let mut ids = Vec::with_capacity(n);
    for chunk in leads.chunks(500) {
        let res = app
            .post("/v1/leads/batch", &ingest, &json!({ "leads": chunk }))
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["created"], json!(chunk.len()), "{body}");
        for r in body["results"].as_array().unwrap() {
            ids.push(r["id"].as_str().unwrap().to_string());
        }
    }
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let decisions = ids.iter().zip(fates).map(|(id, fate)| {
        let sdr = sdr.clone();
        async move {
            let (action, body) = match fate {
                Fate::Accept => ("accept", json!({})),
                Fate::Reject(code) => ("reject", json!({ "code": code })),
            };
            let res = app.decide(id, action, &sdr, &body).await;
            assert_eq!(res.status(), 200, "{action} {id}");
        }
    });
    stream::iter(decisions)
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
}

/// Title function `sales` is accepted 85 % of the time, `hr` 15 % (rejected `out_of_icp`;
/// sales rejections are `no_budget`); the size carries no signal.
pub fn planted_signal(rng: &mut StdRng) -> (&'static str, u32, Fate) {
    let sales = rng.random_bool(0.5);
    let title = if sales { "VP Sales" } else { "HR Generalist" };
    let size = [20, 120, 600][rng.random_range(0..3)];
    let accepted = rng.random_bool(if sales { 0.85 } else { 0.15 });
    let fate = match (accepted, sales) {
        (true, _) => Fate::Accept,
        (false, true) => Fate::Reject("no_budget"),
        (false, false) => Fate::Reject("out_of_icp"),
    };
    (title, size, fate)
}

/// Titles and sizes drawn independently of a fair coin's decision.
fn noise(rng: &mut StdRng) -> (&'static str, u32, Fate) {
    let title = ["VP Sales", "HR Generalist", "CTO", "Marketing Manager"][rng.random_range(0..4)];
    let size = [20, 120, 600, 2000][rng.random_range(0..4)];
    let fate = if rng.random_bool(0.5) {
        Fate::Accept
    } else {
        Fate::Reject(["no_budget", "out_of_icp"][rng.random_range(0..2)])
    };
    (title, size, fate)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test]
async fn a_planted_signal_gives_a_holdout_auc_well_above_one_half() {
    let app = spawn_app().await;
    plant(&app, 0, 1000, 19, planted_signal).await;
    train(&app, 200).await;
    let m = model(&app).await;
    assert_eq!(m["status"], "ready", "{m}");
    assert_eq!(m["training_cycles"], 1000);
    let h = &m["holdout"];
    // The newest fifth of 100 days: about 200 cycles.
    assert!((150..=250).contains(&h["cycles"].as_i64().unwrap()), "{h}");
    assert!(f(&h["auc"]) > 0.8, "{h}");
    assert!(f(&h["brier"]) < 0.2, "{h}");
    let buckets = h["calibration"].as_array().unwrap();
    assert_eq!(buckets.len(), 10);
    let counted: i64 = buckets.iter().map(|b| b["count"].as_i64().unwrap()).sum();
    assert_eq!(counted, h["cycles"].as_i64().unwrap());
    // The strongest value is the planted title function; size is near zero.
    assert_eq!(m["top_features"][0]["dimension"], "title_function", "{m}");
}

#[tokio::test]
async fn a_pure_noise_history_gives_a_holdout_auc_near_one_half() {
    let app = spawn_app().await;
    plant(&app, 0, 1500, 7, noise).await;
    train(&app, 200).await;
    let h = model(&app).await["holdout"].clone();
    let auc = f(&h["auc"]);
    assert!((0.40..=0.60).contains(&auc), "{h}");
}

#[tokio::test]
async fn below_the_minimum_the_model_says_not_enough_data_and_leads_get_no_guess() {
    let app = spawn_app_with(|s| s.cache_ttl = std::time::Duration::ZERO).await;
    let m = model(&app).await;
    assert_eq!(
        (&m["status"], &m["trained_at"]),
        (&json!("not_trained"), &Value::Null)
    );
    plant(&app, 0, 60, 3, planted_signal).await;
    train(&app, 200).await;
    let m = model(&app).await;
    assert_eq!(m["status"], "not_enough_data", "{m}");
    assert_eq!(
        (&m["training_cycles"], &m["min_cycles"]),
        (&json!(60), &json!(200))
    );
    assert_eq!(m["holdout"], Value::Null);
    let open = app
        .ingest(&body("open-1", "VP Sales", 20, app.clock.now()))
        .await;
    let read = app.lead(open["id"].as_str().unwrap()).await;
    assert!(read.get("prediction").is_none(), "{read}");
    // Only RevOps and admins read the model.
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app.get("/v1/model", &sdr).await;
    assert_eq!(res.status(), 403);
}
