//! Predictions on the lead JSON, and retraining.

use chrono::Duration;
use salgate::{clock::Clock, domain::Role, service::model::Trained};
use serde_json::{json, Value};

use super::{
    history::{body, plant, planted_signal},
    model, train, trainer,
};
use crate::helpers::spawn_app_with;

#[tokio::test]
async fn an_open_lead_gets_a_prediction_from_the_served_model_and_a_decided_one_none() {
    let app = spawn_app_with(|s| s.cache_ttl = std::time::Duration::ZERO).await;
    plant(&app, 0, 600, 11, planted_signal).await;
    assert!(matches!(
        train(&app, 200).await,
        Trained::Stored { ready: true, .. }
    ));
    let now = app.clock.now();
    let sales = app.ingest(&body("open-sales", "VP Sales", 120, now)).await;
    let hr = app
        .ingest(&body("open-hr", "HR Generalist", 120, now))
        .await;
    let sales = app.lead(sales["id"].as_str().unwrap()).await;
    let hr = app.lead(hr["id"].as_str().unwrap()).await;
    let (ps, ph) = (&sales["prediction"], &hr["prediction"]);
    assert!(ps["p_accept"].as_f64().unwrap() > 0.7, "{ps}");
    assert!(ph["p_accept"].as_f64().unwrap() < 0.3, "{ph}");
    assert_eq!(ps["top_factors"][0]["dimension"], "title_function", "{ps}");
    assert_eq!(ps["top_factors"][0]["value"], "sales");
    assert!(ps["top_factors"][0]["effect"].as_f64().unwrap() > 0.0);
    assert!(ph["top_factors"][0]["effect"].as_f64().unwrap() < 0.0);
    assert!(ps["top_factors"].as_array().unwrap().len() <= 3);
    assert_eq!(ph["likely_rejection_code"], "out_of_icp");
    assert_eq!(ps["likely_rejection_code"], "no_budget");
    // The list shows the same prediction; a decided lead has none.
    let list: Value = app
        .get("/v1/leads?state=routed", &app.admin)
        .await
        .json()
        .await
        .unwrap();
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == sales["id"])
        .unwrap();
    assert_eq!(listed["prediction"], *ps);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let id = sales["id"].as_str().unwrap();
    assert_eq!(
        app.decide(id, "accept", &sdr, &json!({})).await.status(),
        200
    );
    assert!(app.lead(id).await.get("prediction").is_none());
}

#[tokio::test]
async fn the_retrain_job_keeps_a_fresh_model_and_picks_up_new_decisions_after_its_interval() {
    let app = spawn_app_with(|s| s.cache_ttl = std::time::Duration::ZERO).await;
    plant(&app, 0, 300, 5, planted_signal).await;
    let job = trainer(&app, 200);
    let Trained::Stored {
        id: first, cycles, ..
    } = job.run_once().await.unwrap()
    else {
        panic!("the first run trains");
    };
    assert_eq!(cycles, 300);
    // Within the interval another run (another replica's, say) keeps the model.
    app.clock.advance(Duration::minutes(59));
    assert_eq!(job.run_once().await.unwrap(), Trained::Fresh);
    plant(&app, 300, 200, 6, planted_signal).await;
    app.clock.advance(Duration::minutes(2));
    let Trained::Stored { id, cycles, .. } = job.run_once().await.unwrap() else {
        panic!("a run after the interval trains");
    };
    assert!(id > first);
    assert_eq!(cycles, 500);
    assert_eq!(model(&app).await["training_cycles"], 500);
    assert_eq!(app.count("models").await, 2);
}
