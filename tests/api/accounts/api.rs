//! The accounts API: list, read, the owner RevOps sets, account-level acceptance; every bad
//! input is a problem naming its field and changes nothing.

use chrono::Duration;
use reqwest::Method;
use salgate::{clock::Clock, domain::Role};
use serde_json::{json, Value};

use super::{account_of, get_account, lead_of, patch, snapshot};
use crate::helpers::{fields, problem, spawn_app, TestApp};

/// Three accounts: Acme (2 leads), Globex, Initech; their ids in that order.
async fn three_accounts(app: &TestApp) -> [String; 3] {
    let acme = account_of(
        app,
        &lead_of("a-1", Some("Acme"), Some("acme.io"), "a@acme.io"),
    )
    .await;
    account_of(app, &lead_of("a-2", None, None, "b@acme.io")).await;
    let globex = account_of(
        app,
        &lead_of("g-1", Some("Globex"), Some("globex.com"), "g@x.org"),
    )
    .await;
    let initech = account_of(app, &lead_of("i-1", Some("Initech"), None, "i@gmail.com")).await;
    [acme, globex, initech].map(|v| v.as_str().unwrap().to_owned())
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_list_filters_by_prefix_owner_and_acceptance_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    let [acme, globex, initech] = three_accounts(&app).await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let get = |q: String| {
        let (app, sdr) = (&app, &sdr);
        async move {
            let res = app.get(&format!("/v1/accounts{q}"), sdr).await;
            assert_eq!(res.status(), 200, "{q}");
            res.json::<Value>().await.unwrap()
        }
    };
    let all = get(String::new()).await;
    let mut expected = vec![acme.clone(), globex.clone(), initech.clone()];
    expected.sort();
    assert_eq!(ids(&all), expected);
    assert_eq!(all["next_cursor"], Value::Null);
    assert_eq!(ids(&get("?q=ACM".into()).await), [acme.as_str()]);
    assert_eq!(ids(&get("?q=globex.c".into()).await), [globex.as_str()]);
    assert_eq!(ids(&get("?q=%25".into()).await), Vec::<String>::new());
    // Pages of one, then the cursor of the last page is null.
    let first = get("?limit=2".into()).await;
    assert_eq!(ids(&first), expected[..2]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = get(format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second), expected[2..]);
    assert_eq!(second["next_cursor"], Value::Null);

    let revops = app.key(Role::Revops, None).await;
    let res = patch(
        &app,
        &format!("/v1/accounts/{globex}"),
        &revops,
        &json!({"owner": "rep-1"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    let until = (app.clock.now() + Duration::days(30)).to_rfc3339();
    let res = app
        .post(
            &format!("/v1/accounts/{initech}/accept"),
            &revops,
            &json!({"until": until, "owner": "rep-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut owned = vec![globex.clone(), initech.clone()];
    owned.sort();
    assert_eq!(ids(&get("?owner=rep-1".into()).await), owned);
    assert_eq!(ids(&get("?accepted=true".into()).await), [initech.as_str()]);
    let mut not = vec![acme.clone(), globex.clone()];
    not.sort();
    assert_eq!(ids(&get("?accepted=false".into()).await), not);

    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=nope", "cursor"),
        ("accepted=yes", "accepted"),
        ("colour=red", "colour"),
    ] {
        let p = problem(
            app.get(&format!("/v1/accounts?{q}"), &sdr).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{q}");
    }
    let long = format!("/v1/accounts?q={}", "a".repeat(201));
    let p = problem(app.get(&long, &sdr).await, 422, "validation_failed").await;
    assert_eq!(fields(&p), ["q"]);
    let ingest = app.key(Role::Ingest, None).await;
    problem(app.get("/v1/accounts", &ingest).await, 403, "forbidden").await;
}

#[tokio::test]
async fn an_account_shows_its_leads_their_states_and_its_changes() {
    let app = spawn_app().await;
    let [acme, ..] = three_accounts(&app).await;
    let a = get_account(&app, &acme).await;
    assert_eq!(a["name"], "Acme");
    assert_eq!(a["lead_count"], 2);
    assert_eq!(a["leads"].as_array().unwrap().len(), 2);
    assert_eq!(a["leads"][0]["state"], "routed");
    assert_eq!(a["leads"][0]["cycle"], 1);
    assert_eq!(a["leads"][0]["owner"], "rep-1");
    assert!(a["leads"][0]["routed_at"].is_string());
    assert_eq!(
        a["lead_states"],
        json!({"routed": 2, "accepted": 0, "rejected": 0, "recycled": 0})
    );
    assert_eq!(a["owner"], Value::Null);
    assert_eq!(a["accepted"], false);
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    problem(
        app.get(&format!("/v1/accounts/{}", uuid::Uuid::now_v7()), &sdr)
            .await,
        404,
        "not_found",
    )
    .await;
    problem(app.get("/v1/accounts/acme", &sdr).await, 404, "not_found").await;
}

#[tokio::test]
async fn revops_sets_and_clears_the_owner_and_bad_patches_change_nothing() {
    let app = spawn_app().await;
    let [acme, ..] = three_accounts(&app).await;
    let path = format!("/v1/accounts/{acme}");
    let revops = app.key(Role::Revops, None).await;
    let before = snapshot(&app).await;
    for (body, field) in [
        (json!({}), "owner"),
        (json!({"owner": 7}), "owner"),
        (json!({"owner": "nobody-we-know"}), "owner"),
        (json!({"owner": "rep-1", "name": "x"}), "name"),
    ] {
        let p = problem(
            patch(&app, &path, &revops, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    problem(
        patch(&app, &path, &sdr, &json!({"owner": "rep-1"})).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(snapshot(&app).await, before);

    let res = patch(&app, &path, &revops, &json!({"owner": "rep-1"})).await;
    assert_eq!(res.status(), 200);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["owner"], "rep-1");
    assert_eq!(a["events"][0]["kind"], "owner_set");
    assert_eq!(a["events"][0]["data"]["owner"], "rep-1");
    let a: Value = patch(&app, &path, &revops, &json!({"owner": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["owner"], Value::Null);
    assert_eq!(a["events"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn accepting_an_account_sets_its_fields_and_is_refused_to_an_sdr_who_does_not_own_it() {
    let app = spawn_app().await;
    let [acme, globex, _] = three_accounts(&app).await;
    let now = app.clock.now();
    let until = (now + Duration::days(90)).to_rfc3339();
    let revops = app.key(Role::Revops, None).await;
    let owner = app.key(Role::Sdr, Some("rep-1")).await;
    let other = app.key(Role::Sdr, Some("rep-2")).await;
    let accept = |id: &str| format!("/v1/accounts/{id}/accept");
    let before = snapshot(&app).await;
    // Nobody owns Acme: its SDRs may not accept it, RevOps must name the owner.
    let body = json!({"until": until});
    problem(
        app.post(&accept(&acme), &owner, &body).await,
        403,
        "forbidden",
    )
    .await;
    let p = problem(
        app.post(&accept(&acme), &revops, &body).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["owner"]);
    for (body, field) in [
        (json!({}), "until"),
        (
            json!({"until": now.to_rfc3339(), "owner": "rep-1"}),
            "until",
        ),
        (
            json!({"until": (now + Duration::days(367)).to_rfc3339(), "owner": "rep-1"}),
            "until",
        ),
        (json!({"until": "tomorrow", "owner": "rep-1"}), "until"),
        (json!({"until": until, "owner": "nobody-we-know"}), "owner"),
        (json!({"until": until, "owner": "rep-1", "why": "x"}), "why"),
    ] {
        let p = problem(
            app.post(&accept(&acme), &revops, &body).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let unknown = accept(&uuid::Uuid::now_v7().to_string());
    let ok_body = json!({"until": until, "owner": "rep-1"});
    problem(
        app.post(&unknown, &revops, &ok_body).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(snapshot(&app).await, before);

    // RevOps accepts Globex for rep-1.
    let res = app.post(&accept(&globex), &revops, &ok_body).await;
    assert_eq!(res.status(), 200);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["owner"], "rep-1");
    assert_eq!(a["accepted"], true);
    assert_eq!(
        a["accepted_until"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        now + Duration::days(90)
    );
    assert!(a["accepted_by"].as_str().unwrap().starts_with("key:"));
    assert_eq!(
        a["accepted_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        now
    );
    assert_eq!(a["events"][0]["kind"], "accepted");
    // Another rep's SDR may neither renew nor end it; its owner may, but only for itself.
    problem(
        app.post(&accept(&globex), &other, &json!({"until": until}))
            .await,
        403,
        "forbidden",
    )
    .await;
    problem(
        app.request(Method::DELETE, &accept(&globex), &other, None)
            .await,
        403,
        "forbidden",
    )
    .await;
    let p = problem(
        app.post(
            &accept(&globex),
            &owner,
            &json!({"until": until, "owner": "rep-2"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&p), ["owner"]);
    let later = (now + Duration::days(120)).to_rfc3339();
    let res = app
        .post(&accept(&globex), &owner, &json!({"until": later}))
        .await;
    assert_eq!(res.status(), 200);
    // The acceptance ends, the owner stays.
    let res = app
        .request(Method::DELETE, &accept(&globex), &owner, None)
        .await;
    assert_eq!(res.status(), 200);
    let a: Value = res.json().await.unwrap();
    assert_eq!(a["accepted"], false);
    assert_eq!(a["accepted_until"], Value::Null);
    assert_eq!(a["owner"], "rep-1");
    let kinds: Vec<&str> = a["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["acceptance_ended", "accepted", "accepted"]);
}

#[tokio::test]
async fn the_openapi_document_describes_every_account_operation() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/v1/accounts", "get"),
        ("/v1/accounts/{id}", "get"),
        ("/v1/accounts/{id}", "patch"),
        ("/v1/accounts/{id}/accept", "post"),
        ("/v1/accounts/{id}/accept", "delete"),
        ("/v1/accounts/{id}/merge", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} missing");
        assert_eq!(op["tags"], json!(["accounts"]), "{method} {path}");
    }
    let schemas = &doc["components"]["schemas"];
    for name in [
        "Account",
        "AccountDetail",
        "AccountPatch",
        "AccountAcceptInput",
        "AccountMergeInput",
    ] {
        assert!(schemas[name].is_object(), "{name}");
    }
    let params: Vec<&str> = doc["paths"]["/v1/metrics/acceptance"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        params.contains(&"decided_by") && params.contains(&"account"),
        "{params:?}"
    );
}
