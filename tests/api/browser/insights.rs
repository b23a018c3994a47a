//! The dashboard's funnel and rejection-drivers panels show the numbers `/v1/metrics/funnel`
//! and `/v1/metrics/rejection-drivers` report for the same period and filters, the drivers'
//! summary sentence included, without CSP errors.

use chrono::{DateTime, Duration, Utc};
use salgate::domain::Role;
use serde_json::{json, Value};

use super::Browser;
use crate::helpers::{lead, spawn_app_with, TestApp};

const WEEK: &str = "from=2026-03-01&to=2026-03-08&group_by=week";

/// `n` leads titled `title` at a company of `size`, the first `rejected` rejected.
async fn plant(app: &TestApp, prefix: &str, title: &str, size: i64, n: usize, rejected: usize) {
    let ingest = app.key(Role::Ingest, None).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for i in 0..n {
        let mut body = lead(&format!("{prefix}-{i}"));
        body["title"] = json!(title);
        body["company"] = json!({"name": "Acme", "size": size});
        let res = app.post("/v1/leads", &ingest, &body).await;
        assert_eq!(res.status(), 201);
        let id = res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.clock.advance(Duration::minutes(1));
        let (action, body) = if i < rejected {
            ("reject", json!({"code": "title_mismatch"}))
        } else {
            ("accept", json!({}))
        };
        assert_eq!(app.decide(&id, action, &sdr, &body).await.status(), 200);
    }
}

async fn api(app: &TestApp, report: &str, query: &str) -> Value {
    let res = app
        .get(&format!("/v1/metrics/{report}?{query}"), &app.admin)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_funnel_and_drivers_panels_show_the_apis_numbers() {
    let app = spawn_app_with(|s| s.driver_min_support = 5).await;
    let t0: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
    app.clock.set(t0);
    plant(&app, "hr", "HR Generalist", 20, 10, 9).await;
    plant(&app, "vp", "VP Sales", 900, 20, 2).await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.key(Role::Revops, None).await).await;
    b.goto(&format!("/app/dashboard?{WEEK}")).await;

    // Funnel: one row per week and the total, routed and accepted as the API's.
    let funnel = api(&app, "funnel", WEEK).await;
    let rows = b
        .eval(
            "return [...document.querySelectorAll('#funnel-table tbody tr')].map(tr => [\
             tr.dataset.key, tr.querySelector('.routed').textContent,\
             tr.querySelector('.accepted').dataset.value]);",
        )
        .await;
    let mut want: Vec<Value> = funnel["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| json!([g["key"], g["routed"].to_string(), g["accepted"].to_string()]))
        .collect();
    let total = &funnel["total"];
    want.push(json!([
        "Total",
        total["routed"].to_string(),
        total["accepted"].to_string()
    ]));
    assert_eq!(rows, Value::Array(want));
    assert_eq!(total["routed"], 30);

    // Drivers: the summary sentence and every listed value's figures are the API's.
    let drivers = api(&app, "rejection-drivers", "from=2026-03-01&to=2026-03-08").await;
    let text = drivers["summary"]["text"].as_str().unwrap();
    // HR Generalist is individual / hr: the first dimension of the tie names it.
    assert_eq!(
        text,
        "title seniority = individual explains 82 % of rejections"
    );
    assert_eq!(b.text("#drivers-summary").await, format!("{text}."));
    let page = b
        .eval(
            "return [...document.querySelectorAll('#drivers-table tbody tr')].map(tr => [\
             tr.dataset.dimension, tr.dataset.value, tr.querySelector('.cycles').textContent,\
             tr.querySelector('.rejected').textContent, tr.querySelector('.lift').dataset.value]);",
        )
        .await;
    let mut want = Vec::new();
    for d in drivers["dimensions"].as_array().unwrap() {
        for v in d["values"].as_array().unwrap().iter().take(5) {
            let lift = v["lift"].as_f64().map_or(String::new(), |l| l.to_string());
            want.push(json!([
                d["dimension"],
                v["value"],
                v["cycles"].to_string(),
                v["rejected"].to_string(),
                lift
            ]));
        }
    }
    assert_eq!(page, Value::Array(want));
    assert_eq!(b.eval("return window.__errors;").await, json!([]));
    b.eval("document.getElementById('drivers-title').scrollIntoView(); return 0;")
        .await;
    b.screenshot("dashboard-drivers").await;
    b.close().await;
}
