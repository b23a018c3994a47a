//! The dashboard's acceptance-model panel shows what `GET /v1/model` reports: status, holdout
//! AUC and Brier score, and the calibration buckets.

use salgate::domain::Role;
use serde_json::Value;

use super::Browser;
use crate::{
    helpers::spawn_app,
    model::{
        history::{plant, planted_signal},
        train,
    },
};

#[tokio::test]
async fn the_model_panel_shows_the_apis_quality_and_calibration() {
    let app = spawn_app().await;
    let b = Browser::open(&app).await;
    b.sign_in_with_key(&app.key(Role::Revops, None).await).await;
    b.goto("/app/dashboard").await;
    assert_eq!(b.text("#model-status").await, "not trained yet");

    plant(&app, 0, 400, 23, planted_signal).await;
    train(&app, 200).await;
    let m: Value = app.get("/v1/model", &app.admin).await.json().await.unwrap();
    b.goto("/app/dashboard").await;
    b.screenshot("dashboard-model").await;
    let page = b
        .eval(
            "return {auc: document.querySelector('#model-auc').dataset.value, \
             brier: document.querySelector('#model-brier').dataset.value, \
             status: document.querySelector('#model-status').textContent, \
             counts: [...document.querySelectorAll('#model-calibration-table tbody td.count')]\
               .map(td => Number(td.textContent))};",
        )
        .await;
    let h = &m["holdout"];
    assert_eq!(page["status"], "ready");
    assert_eq!(
        page["auc"].as_str().unwrap().parse::<f64>().ok(),
        h["auc"].as_f64()
    );
    assert_eq!(
        page["brier"].as_str().unwrap().parse::<f64>().ok(),
        h["brier"].as_f64()
    );
    let want: Vec<Value> = h["calibration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].clone())
        .collect();
    assert_eq!(page["counts"], Value::Array(want));
}
