//! Rule bodies the API refuses (every bad member named, nothing stored), roles, and
//! concurrent replacements of one rule.

use reqwest::Method;
use salgate::domain::Role;
use serde_json::{json, Value};

use super::{app, rule};
use crate::helpers::{fields, problem};

fn web() -> Value {
    json!({"all": [{"field": "channel", "op": "eq", "value": "web"}]})
}

#[tokio::test]
async fn bad_rule_bodies_name_each_bad_field_and_store_nothing() {
    let (app, revops) = app().await;
    let cases = [
        (
            json!({"name": "x", "position": 1, "condition": web(), "action": {"type": "accept"}}),
            vec!["action.owner"],
        ),
        (
            json!({"name": "x", "position": 1, "condition": web(), "action": {"type": "reject", "code": "no_such_code"}}),
            vec!["action.code"],
        ),
        (
            json!({"name": "x", "position": 1, "condition": web(), "action": {"type": "recycle", "reason": "nope"}}),
            vec!["action.reason"],
        ),
        (
            json!({"name": "x", "position": 1, "condition": web(), "action": {"type": "route", "queue": "nowhere"}}),
            vec!["action.queue"],
        ),
        (
            json!({"name": "x", "position": 1, "condition": web(), "action": {"type": "route", "owner": "nobody"}}),
            vec!["action.owner"],
        ),
        (
            json!({"name": "x", "position": 1, "mode": "live", "condition": web(), "action": {"type": "route", "owner": "rep-1"}}),
            vec!["mode"],
        ),
        (
            json!({"position": -1, "condition": {"all": [
            {"field": "channel", "op": "eq", "value": "web"},
            {"field": "colour", "op": "eq", "value": "red"},
            {"field": "email", "op": "matches", "value": "(["}]},
            "action": {"type": "route", "owner": "rep-1"}, "extra": 1}),
            vec![
                "name",
                "position",
                "condition.all[1].field",
                "condition.all[2].value",
                "extra",
            ],
        ),
    ];
    for (body, want) in cases {
        let res = app.post("/v1/rules", &revops, &body).await;
        let p = problem(res, 422, "validation_failed").await;
        assert_eq!(fields(&p), want, "{body}");
    }
    assert_eq!(app.count("ingest_rules").await, 0);
    assert_eq!(app.count("ingest_rule_history").await, 0);
}

#[tokio::test]
async fn only_revops_and_admin_keys_read_and_write_rules() {
    let (app, _) = app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    assert_eq!(app.get("/v1/rules", &sdr).await.status(), 403);
    let body = json!({"name": "x", "position": 1, "condition": web(), "action": {"type": "route", "owner": "rep-1"}});
    assert_eq!(app.post("/v1/rules", &sdr, &body).await.status(), 403);
    assert_eq!(app.post("/v1/rules", &app.admin, &body).await.status(), 201);
}

#[tokio::test]
async fn a_put_without_mode_puts_a_live_rule_back_in_dry_run_and_each_write_is_in_its_history() {
    let (app, revops) = app().await;
    let id = rule(
        &app,
        &revops,
        web(),
        json!({"type": "route", "owner": "rep-1"}),
        true,
    )
    .await;
    let body = json!({"name": "r2", "position": 3, "condition": web(), "action": {"type": "route", "owner": "rep-2"}});
    let res = app
        .request(
            Method::PUT,
            &format!("/v1/rules/{id}"),
            &revops,
            Some(&body),
        )
        .await;
    let view: Value = res.json().await.unwrap();
    assert_eq!(
        (view["mode"].as_str(), view["version"].as_i64()),
        (Some("dry_run"), Some(3))
    );
    let res = app
        .request(Method::DELETE, &format!("/v1/rules/{id}"), &revops, None)
        .await;
    assert_eq!(res.status(), 204);
    let changes: Vec<String> =
        sqlx::query_scalar("SELECT change FROM ingest_rule_history ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(changes, ["created", "updated", "updated", "deleted"]);
    assert_eq!(
        app.get(&format!("/v1/rules/{id}"), &revops).await.status(),
        404
    );
}

#[tokio::test]
async fn concurrent_puts_naming_one_version_let_exactly_one_win() {
    let (app, revops) = app().await;
    let id = rule(
        &app,
        &revops,
        web(),
        json!({"type": "route", "owner": "rep-1"}),
        false,
    )
    .await;
    let path = format!("/v1/rules/{id}");
    let puts = (0..8).map(|i| {
        let (app, revops, path) = (&app, &revops, &path);
        async move {
            let body = json!({"name": format!("w{i}"), "position": i, "condition": web(), "action": {"type": "route", "owner": "rep-2"}});
            app.client
                .put(app.url(path))
                .bearer_auth(revops)
                .header("If-Match", "\"1\"")
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(puts).await;
    statuses.sort();
    assert_eq!(statuses, [200, 412, 412, 412, 412, 412, 412, 412]);
    let updates: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingest_rule_history WHERE change = 'updated'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(updates, 1);
}
