use salgate::domain::Role;
use serde_json::json;

use super::{person, put, queue};
use crate::helpers::spawn_app;

/// Routes lead `id` through `queue`, has its owner decide it with `action`, and returns who
/// owned it.
async fn route_and_decide(
    app: &crate::helpers::TestApp,
    id: &str,
    queue: &str,
    action: &str,
) -> String {
    let lead = app
        .ingest(&person(
            id,
            json!({"queue": queue, "email": "same@acme.io"}),
        ))
        .await;
    let owner = lead["owner"].as_str().expect("an owner").to_owned();
    let sdr = app.key(Role::Sdr, Some(&owner)).await;
    let body = match action {
        "reject" => json!({"code": "no_budget"}),
        _ => json!({"reason": "not_ready"}),
    };
    let res = app
        .decide(lead["id"].as_str().unwrap(), action, &sdr, &body)
        .await;
    assert_eq!(res.status(), 200);
    owner
}

#[tokio::test]
async fn a_rerouted_lead_passes_over_reps_who_decided_it_before() {
    for strategy in ["round_robin", "least_loaded"] {
        let app = spawn_app().await;
        queue(&app, "q", strategy, false, &["r-1", "r-2", "r-3"]).await;
        let first = route_and_decide(&app, "x-1", "q", "reject").await;
        let second = route_and_decide(&app, "x-1", "q", "recycle").await;
        let third = route_and_decide(&app, "x-1", "q", "reject").await;
        let mut all = vec![first.clone(), second.clone(), third.clone()];
        all.sort();
        assert_eq!(
            all,
            ["r-1", "r-2", "r-3"],
            "{strategy}: a new rep each cycle"
        );
        // Everyone has said no: one of them gets it again rather than nobody.
        let lead = app
            .ingest(&person(
                "x-1",
                json!({"queue": "q", "email": "same@acme.io"}),
            ))
            .await;
        assert!(lead["owner"].is_string(), "{strategy}");
        assert_eq!(lead["cycle"], 4);
    }
}

#[tokio::test]
async fn an_earlier_decider_who_is_the_only_eligible_rep_still_gets_the_lead() {
    let app = spawn_app().await;
    queue(&app, "q", "round_robin", false, &["r-1", "r-2"]).await;
    let first = route_and_decide(&app, "y-1", "q", "reject").await;
    let other = if first == "r-1" { "r-2" } else { "r-1" };
    put(
        &app,
        &format!("/v1/reps/{other}"),
        json!({"queues": ["q"], "active": false}),
    )
    .await;
    let lead = app
        .ingest(&person(
            "y-1",
            json!({"queue": "q", "email": "same@acme.io"}),
        ))
        .await;
    assert_eq!(lead["owner"], first.as_str());
}
