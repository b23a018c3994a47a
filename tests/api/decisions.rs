use salgate::domain::{lead::Replay, Role};
use serde_json::{json, Value};

use crate::helpers::{fields, lead, problem, spawn_app, TestApp};

/// A routed lead owned by rep-1, and an sdr key for rep-1.
async fn routed(app: &TestApp) -> (String, String) {
    let l = app.ingest(&lead("c-1")).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    (l["id"].as_str().unwrap().to_string(), sdr)
}

fn body_for(action: &str) -> Value {
    match action {
        "accept" => json!({"note": "fits", "next_action": "call tomorrow"}),
        "reject" => json!({"code": "out_of_territory", "note": "APAC"}),
        _ => json!({"reason": "needs_nurture", "note": "not now"}),
    }
}

/// Drives a fresh lead into `state` and returns (id, sdr token).
async fn lead_in(app: &TestApp, state: &str) -> (String, String) {
    let (id, sdr) = routed(app).await;
    let action = match state {
        "routed" => return (id, sdr),
        "accepted" => "accept",
        "rejected" => "reject",
        _ => "recycle",
    };
    let res = app.decide(&id, action, &sdr, &body_for(action)).await;
    assert_eq!(res.status(), 200);
    (id, sdr)
}

#[tokio::test]
async fn the_owner_accepts_a_routed_lead_and_the_decision_is_recorded() {
    let app = spawn_app().await;
    let (id, sdr) = routed(&app).await;
    let res = app.decide(&id, "accept", &sdr, &body_for("accept")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"], "\"2\"");
    let l: Value = res.json().await.unwrap();
    assert_eq!(l["state"], "accepted");
    assert_eq!(l["accepted_by"], "rep-1");
    assert!(l["accepted_at"].is_string());
    assert_eq!(l["next_action"], "call tomorrow");
    assert_eq!(l["version"], 2);
    let h = app.history(&id).await;
    assert_eq!(h.len(), 2);
    assert_eq!(h[1]["kind"], "accepted");
    assert_eq!(h[1]["from_state"], "routed");
    assert_eq!(h[1]["rep"], "rep-1");
    assert_eq!(h[1]["actor_role"], "sdr");
    assert_eq!(h[1]["note"], "fits");
    assert_eq!(h[1]["cycle"], 1);
}

#[tokio::test]
async fn the_owner_rejects_with_a_code() {
    let app = spawn_app().await;
    let (id, sdr) = routed(&app).await;
    let l: Value = app
        .decide(&id, "reject", &sdr, &body_for("reject"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(l["state"], "rejected");
    assert_eq!(l["rejected_by"], "rep-1");
    assert_eq!(l["rejection_code"], "out_of_territory");
    let h = app.history(&id).await;
    assert_eq!(
        (h[1]["kind"].as_str(), h[1]["code"].as_str()),
        (Some("rejected"), Some("out_of_territory"))
    );
}

#[tokio::test]
async fn the_owner_recycles_a_routed_lead_without_a_note() {
    let app = spawn_app().await;
    let (id, sdr) = routed(&app).await;
    let res = app
        .decide(&id, "recycle", &sdr, &json!({"reason": "not_ready"}))
        .await;
    assert_eq!(res.status(), 200);
    let l: Value = res.json().await.unwrap();
    assert_eq!(
        (l["state"].as_str(), l["recycle_reason"].as_str()),
        (Some("recycled"), Some("not_ready"))
    );
}

#[tokio::test]
async fn an_accepted_lead_is_recycled_only_with_a_note() {
    let app = spawn_app().await;
    let (id, sdr) = lead_in(&app, "accepted").await;
    let res = app
        .decide(&id, "recycle", &sdr, &json!({"reason": "no_response"}))
        .await;
    let p = problem(res, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["note"]);
    assert_eq!(
        app.lead(&id).await["state"],
        "accepted",
        "a refused request changes nothing"
    );
    let res = app
        .decide(
            &id,
            "recycle",
            &sdr,
            &json!({"reason": "no_response", "note": "went dark after demo"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let l: Value = res.json().await.unwrap();
    assert_eq!(l["state"], "recycled");
    assert_eq!(
        l["accepted_by"], "rep-1",
        "the reversed accept stays visible on the lead"
    );
}

#[tokio::test]
async fn every_disallowed_transition_is_a_409_listing_the_allowed_ones() {
    let app = spawn_app().await;
    let cases = [
        ("accepted", "accept", vec!["recycle"]),
        ("accepted", "reject", vec!["recycle"]),
        ("rejected", "accept", vec!["route"]),
        ("rejected", "reject", vec!["route"]),
        ("rejected", "recycle", vec!["route"]),
        ("recycled", "accept", vec!["route"]),
        ("recycled", "reject", vec!["route"]),
        ("recycled", "recycle", vec!["route"]),
    ];
    for (state, action, allowed) in cases {
        let app_lead = app.ingest(&lead(&format!("{state}-{action}"))).await;
        let id = app_lead["id"].as_str().unwrap().to_string();
        let sdr = app.key(Role::Sdr, Some("rep-1")).await;
        let into = match state {
            "accepted" => "accept",
            "rejected" => "reject",
            _ => "recycle",
        };
        assert_eq!(
            app.decide(&id, into, &sdr, &body_for(into)).await.status(),
            200
        );
        let before = app.lead(&id).await;
        let res = app.decide(&id, action, &sdr, &body_for(action)).await;
        let p = problem(res, 409, "invalid_transition").await;
        assert_eq!(p["current_state"], state);
        assert_eq!(
            p["allowed_transitions"],
            json!(allowed),
            "{state} -> {action}"
        );
        assert_eq!(
            app.lead(&id).await,
            before,
            "{state} -> {action} changed the lead"
        );
    }
}

#[tokio::test]
async fn reject_with_an_unknown_or_retired_code_is_a_422_naming_code() {
    let app = spawn_app().await;
    let (id, sdr) = routed(&app).await;
    let res = app
        .decide(&id, "reject", &sdr, &json!({"code": "too_pushy"}))
        .await;
    let p = problem(res, 422, "unknown_rejection_code").await;
    assert_eq!(fields(&p), ["code"]);
    let res = app
        .request(
            reqwest::Method::PATCH,
            "/v1/rejection-codes/no_budget",
            &app.admin,
            Some(&json!({"active": false})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .decide(&id, "reject", &sdr, &json!({"code": "no_budget"}))
        .await;
    problem(res, 422, "unknown_rejection_code").await;
    let res = app
        .decide(&id, "recycle", &sdr, &json!({"reason": "bored"}))
        .await;
    let p = problem(res, 422, "unknown_recycle_reason").await;
    assert_eq!(fields(&p), ["reason"]);
    assert_eq!(app.lead(&id).await["state"], "routed");
    assert_eq!(app.history(&id).await.len(), 1);
}

#[tokio::test]
async fn reject_without_a_code_or_other_without_a_note_is_a_422() {
    let app = spawn_app().await;
    let (id, sdr) = routed(&app).await;
    let p = problem(
        app.decide(&id, "reject", &sdr, &json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["code"]);
    let p = problem(
        app.decide(&id, "reject", &sdr, &json!({"code": "other"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["note"]);
    let p = problem(
        app.decide(&id, "accept", &sdr, &json!({"accepted_by": "rep-9"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        fields(&p),
        ["accepted_by"],
        "the decider never comes from the body"
    );
    let res = app
        .decide(
            &id,
            "reject",
            &sdr,
            &json!({"code": "other", "note": "spam submission"}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn revops_decides_on_behalf_of_a_rep_and_must_name_one() {
    let app = spawn_app().await;
    let (id, _) = routed(&app).await;
    let revops = app.key(Role::Revops, None).await;
    let p = problem(
        app.decide(&id, "accept", &revops, &json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["on_behalf_of"]);
    let res = app
        .decide(&id, "accept", &revops, &json!({"on_behalf_of": "rep-7"}))
        .await;
    assert_eq!(res.status(), 200);
    let l: Value = res.json().await.unwrap();
    assert_eq!(l["accepted_by"], "rep-7");
    assert_eq!(l["owner"], "rep-7");
    let h = app.history(&id).await;
    assert_eq!(h[1]["actor_role"], "revops");
    assert_eq!(h[1]["rep"], "rep-7");
}

#[tokio::test]
async fn a_stale_if_match_is_a_412_and_a_current_one_succeeds() {
    let app = spawn_app().await;
    let (id, sdr) = routed(&app).await;
    let stale = app
        .client
        .post(app.url(&format!("/v1/leads/{id}/accept")))
        .bearer_auth(&sdr)
        .header("if-match", "\"7\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let p = problem(stale, 412, "stale_version").await;
    assert_eq!(p["current_version"], 1);
    assert_eq!(app.lead(&id).await["state"], "routed");
    let etag = app.get(&format!("/v1/leads/{id}"), &sdr).await.headers()["etag"].clone();
    let ok = app
        .client
        .post(app.url(&format!("/v1/leads/{id}/accept")))
        .bearer_auth(&sdr)
        .header("if-match", etag)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn deciding_a_missing_lead_is_a_404() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let missing = uuid::Uuid::now_v7();
    problem(
        app.decide(&missing.to_string(), "accept", &sdr, &json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.decide("not-a-uuid", "accept", &sdr, &json!({})).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_stored_history_replays_to_the_stored_lead() {
    let app = spawn_app().await;
    let (id, sdr) = lead_in(&app, "recycled").await;
    assert_eq!(
        app.post("/v1/leads", &app.admin, &lead("c-1"))
            .await
            .status(),
        201
    );
    assert_eq!(
        app.decide(&id, "accept", &sdr, &json!({})).await.status(),
        200
    );
    let res = app
        .decide(
            &id,
            "recycle",
            &sdr,
            &json!({"reason": "no_response", "note": "silent"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.post("/v1/leads", &app.admin, &lead("c-1"))
            .await
            .status(),
        201
    );
    let mut replay = Replay::default();
    for h in app.history(&id).await {
        replay
            .apply(
                h["kind"].as_str().unwrap(),
                h["cycle"].as_i64().unwrap() as i32,
                h["rep"].as_str(),
            )
            .unwrap();
    }
    let l = app.lead(&id).await;
    assert_eq!(replay.state.unwrap().as_str(), l["state"]);
    assert_eq!(i64::from(replay.cycle), l["cycle"].as_i64().unwrap());
    assert_eq!(l["cycle"], 3);
}

#[tokio::test]
async fn an_admin_decides_on_behalf_of_a_rep_and_must_name_one() {
    let app = spawn_app().await;
    let (id, _) = routed(&app).await;
    let p = problem(
        app.decide(&id, "accept", &app.admin, &json!({})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["on_behalf_of"]);
    assert_eq!(app.lead(&id).await["state"], "routed");
    let res = app
        .decide(&id, "accept", &app.admin, &json!({"on_behalf_of": "rep-2"}))
        .await;
    assert_eq!(res.status(), 200);
    let l: Value = res.json().await.unwrap();
    assert_eq!(
        (
            l["state"].as_str(),
            l["accepted_by"].as_str(),
            l["owner"].as_str()
        ),
        (Some("accepted"), Some("rep-2"), Some("rep-2"))
    );
    let h = app.history(&id).await;
    assert_eq!(
        (h[1]["actor_role"].as_str(), h[1]["rep"].as_str()),
        (Some("admin"), Some("rep-2"))
    );
}

#[tokio::test]
async fn revops_recycles_an_accepted_lead_only_with_a_note_and_another_sdr_may_not() {
    let app = spawn_app().await;
    let (id, _) = lead_in(&app, "accepted").await;
    let revops = app.key(Role::Revops, None).await;
    for note in [json!(null), json!("   ")] {
        let body = json!({"reason": "no_response", "on_behalf_of": "rep-1", "note": note});
        let p = problem(
            app.decide(&id, "recycle", &revops, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), ["note"], "note {note}");
    }
    let other_sdr = app.key(Role::Sdr, Some("rep-2")).await;
    let body = json!({"reason": "no_response", "note": "went dark"});
    problem(
        app.decide(&id, "recycle", &other_sdr, &body).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.history(&id).await.len(), 2, "refusals write nothing");
    let body = json!({"reason": "no_response", "note": "went dark", "on_behalf_of": "rep-1"});
    let res = app.decide(&id, "recycle", &revops, &body).await;
    assert_eq!(res.status(), 200);
    let l: Value = res.json().await.unwrap();
    assert_eq!(
        (l["state"].as_str(), l["recycle_reason"].as_str()),
        (Some("recycled"), Some("no_response"))
    );
    let h = app.history(&id).await;
    assert_eq!(h.len(), 3);
    assert_eq!(
        (
            h[2]["kind"].as_str(),
            h[2]["from_state"].as_str(),
            h[2]["actor_role"].as_str(),
            h[2]["note"].as_str()
        ),
        (
            Some("recycled"),
            Some("accepted"),
            Some("revops"),
            Some("went dark")
        )
    );
}

/// POSTs `action` on lead `id` with `If-Match: <if_match>`.
async fn decide_if_match(
    app: &TestApp,
    id: &str,
    action: &str,
    token: &str,
    if_match: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/leads/{id}/{action}")))
        .bearer_auth(token)
        .header("if-match", if_match)
        .json(&body_for(action))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn if_match_is_honoured_on_reject_and_recycle_too() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    for action in ["reject", "recycle"] {
        let l = app.ingest(&lead(&format!("im-{action}"))).await;
        let id = l["id"].as_str().unwrap();
        let stale = decide_if_match(&app, id, action, &sdr, "\"2\"").await;
        let p = problem(stale, 412, "stale_version").await;
        assert_eq!(p["current_version"], 1, "{action}");
        assert_eq!(app.lead(id).await["state"], "routed", "{action}");
        assert_eq!(app.history(id).await.len(), 1, "{action}");
        let ok = decide_if_match(&app, id, action, &sdr, "\"1\"").await;
        assert_eq!(ok.status(), 200, "{action}");
        assert_eq!(ok.headers()["etag"], "\"2\"", "{action}");
        // The same If-Match again is now stale: 412 (not 409), naming the new version.
        let again = decide_if_match(&app, id, action, &sdr, "\"1\"").await;
        let p = problem(again, 412, "stale_version").await;
        assert_eq!(p["current_version"], 2, "{action}");
    }
}

#[tokio::test]
async fn the_database_refuses_to_update_delete_or_truncate_history() {
    let app = spawn_app().await;
    let (id, _) = lead_in(&app, "accepted").await;
    let lead_id: uuid::Uuid = id.parse().unwrap();
    let statements = [
        "UPDATE lead_history SET note = 'rewritten' WHERE lead_id = $1",
        "DELETE FROM lead_history WHERE lead_id = $1",
    ];
    for sql in statements {
        let err = sqlx::query(sql)
            .bind(lead_id)
            .execute(&app.pool)
            .await
            .expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let err = sqlx::query("TRUNCATE lead_history CASCADE")
        .execute(&app.pool)
        .await
        .expect_err("TRUNCATE");
    assert!(err.to_string().contains("append-only"), "TRUNCATE: {err}");
    let h = app.history(&id).await;
    assert_eq!(h.len(), 2);
    assert_eq!(h[1]["note"], "fits", "the entry is unchanged");
}
