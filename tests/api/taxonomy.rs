use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app};

fn codes(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_spec_codes_are_seeded_and_readable_by_every_role() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let list: Value = app
        .get("/v1/rejection-codes", &sdr)
        .await
        .json()
        .await
        .unwrap();
    let mut expected = vec![
        "title_mismatch",
        "company_size_mismatch",
        "out_of_territory",
        "out_of_icp",
        "duplicate",
        "existing_opportunity",
        "existing_customer",
        "competitor",
        "insufficient_data",
        "student_or_consultant",
        "no_budget",
        "misrouted",
        "other",
    ];
    expected.sort();
    assert_eq!(codes(&list), expected);
    let ingest = app.key(Role::Ingest, None).await;
    let list: Value = app
        .get("/v1/recycle-reasons", &ingest)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        codes(&list),
        [
            "insufficient_data",
            "needs_nurture",
            "no_response",
            "not_ready",
            "other"
        ]
    );
}

#[tokio::test]
async fn revops_adds_a_code_that_sdrs_can_then_use_and_retires_it() {
    let app = spawn_app().await;
    let revops = app.key(Role::Revops, None).await;
    let res = app
        .post(
            "/v1/rejection-codes",
            &revops,
            &json!({"code": "wrong_product", "label": "Wants another product"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["active"], true);
    let res = app
        .post(
            "/v1/rejection-codes",
            &revops,
            &json!({"code": "wrong_product", "label": "again"}),
        )
        .await;
    problem(res, 409, "already_exists").await;
    let res = app
        .post(
            "/v1/rejection-codes",
            &revops,
            &json!({"code": "Wrong Product"}),
        )
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(
        p["errors"].as_array().unwrap().len(),
        2,
        "code and label: {p}"
    );

    let l = app.ingest(&lead("c-1")).await;
    let id = l["id"].as_str().unwrap();
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(id, "reject", &sdr, &json!({"code": "wrong_product"}))
        .await;
    assert_eq!(res.status(), 200);

    let res = app
        .request(
            Method::PATCH,
            "/v1/rejection-codes/wrong_product",
            &revops,
            Some(&json!({"active": false, "label": "Retired"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (patched["active"].as_bool(), patched["label"].as_str()),
        (Some(false), Some("Retired"))
    );
    // Retired: no new decision may use it (nothing changes), ...
    let other = app.ingest(&lead("c-2")).await;
    let other_id = other["id"].as_str().unwrap();
    let res = app
        .decide(other_id, "reject", &sdr, &json!({"code": "wrong_product"}))
        .await;
    let p = problem(res, 422, "unknown_rejection_code").await;
    assert_eq!(fields(&p), ["code"]);
    assert_eq!(app.lead(other_id).await["state"], "routed");
    // ... but what was decided with it stands: the lead, its history and the rejections report
    // (computed from the history) still name it.
    let l = app.lead(id).await;
    assert_eq!(
        (&l["state"], &l["rejection_code"]),
        (&json!("rejected"), &json!("wrong_product"))
    );
    let h = app.history(id).await;
    assert_eq!(h[1]["code"], "wrong_product");
    let routed: chrono::DateTime<chrono::Utc> = l["routed_at"].as_str().unwrap().parse().unwrap();
    let day = routed.date_naive();
    let path = format!(
        "/v1/metrics/rejections?from={day}&to={}",
        day + chrono::Days::new(1)
    );
    let r = crate::metrics::report(&app, &path).await;
    assert_eq!(
        r["total"]["codes"],
        json!([{"code": "wrong_product", "count": 1, "share": 1.0, "previous_share": null, "rising": false}]),
        "{r}"
    );
    let res = app
        .request(
            Method::PATCH,
            "/v1/rejection-codes/nope",
            &revops,
            Some(&json!({"active": false})),
        )
        .await;
    problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn recycle_reasons_are_managed_the_same_way() {
    let app = spawn_app().await;
    let res = app
        .post("/v1/recycle-reasons", &app.admin, &json!({"code": "event_follow_up", "label": "Follow up after the event", "active": false}))
        .await;
    assert_eq!(res.status(), 201);
    let list: Value = app
        .get("/v1/recycle-reasons", &app.admin)
        .await
        .json()
        .await
        .unwrap();
    assert!(codes(&list).contains(&"event_follow_up".to_string()));
    let l = app.ingest(&lead("c-1")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let res = app
        .decide(
            l["id"].as_str().unwrap(),
            "recycle",
            &sdr,
            &json!({"reason": "event_follow_up"}),
        )
        .await;
    problem(res, 422, "unknown_recycle_reason").await;
}
