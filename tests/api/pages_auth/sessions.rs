//! Sessions: a link opens exactly one, however many sign-ins race for it; they expire, end with
//! their API key, and end on sign-out only with the session's CSRF token; failed sign-ins are
//! limited per address as failed API authentication is.

use chrono::Duration;
use futures::future::join_all;
use salgate::{domain::Role, service::people::SESSION_TTL};
use serde_json::Value;

use super::{link, Visitor};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_confirmed_by_sixteen_browsers_at_once_opens_exactly_one_session() {
    // Fifteen of them fail: no per-address limit here, or it would answer some of them.
    let app = spawn_app_with(|s| s.unauthenticated_rate_limit_per_second = 0.0).await;
    let token = link(&app, Role::Sdr, Some("rep-1")).await;
    let visitors: Vec<Visitor> = (0..16).map(|_| Visitor::new(&app)).collect();
    // Every browser has the confirmation page (and its login cookie) before any confirms.
    for v in &visitors {
        assert_eq!(v.open_link(&token).await.status(), 200);
    }
    let barrier = tokio::sync::Barrier::new(visitors.len());
    let statuses = join_all(visitors.iter().map(|v| {
        let (barrier, token) = (&barrier, &token);
        async move {
            barrier.wait().await;
            v.confirm_link(token).await.status().as_u16()
        }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 410).count(),
        15,
        "{statuses:?}"
    );
    assert_eq!(app.count("sessions").await, 1);
    let signed_in: Vec<&Visitor> = visitors
        .iter()
        .filter(|v| v.cookie("salgate_session").is_some())
        .collect();
    assert_eq!(signed_in.len(), 1);
    assert!(signed_in[0].signed_in().await);
}

#[tokio::test]
async fn a_session_ends_when_its_time_is_up() {
    let app = spawn_app().await;
    let v = Visitor::new(&app);
    v.sign_in_with_link(&link(&app, Role::Revops, None).await)
        .await;
    app.clock.advance(SESSION_TTL - Duration::seconds(1));
    assert!(v.signed_in().await, "still within its 12 hours");
    app.clock.advance(Duration::seconds(2));
    let res = v.get("/app?view=queue").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/app/login?next=/app%3Fview%3Dqueue",
        "to sign-in, and back to the page after"
    );
}

#[tokio::test]
async fn revoking_the_api_key_a_session_was_opened_with_ends_the_session() {
    let app = spawn_app().await;
    let created: Value = app
        .post(
            "/v1/api-keys",
            &app.admin,
            &serde_json::json!({"name": "ada", "role": "sdr", "rep": "rep-1"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let (id, key) = (
        created["id"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );
    let (by_key, by_link) = (Visitor::new(&app), Visitor::new(&app));
    by_key.sign_in_with_key(key).await;
    by_link
        .sign_in_with_link(&link(&app, Role::Sdr, Some("rep-1")).await)
        .await;
    assert!(by_key.signed_in().await);
    let revoked = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            &app.admin,
            None,
        )
        .await;
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert!(!by_key.signed_in().await, "the key's session ended with it");
    assert!(
        by_link.signed_in().await,
        "a link's session does not depend on any key"
    );
}

#[tokio::test]
async fn sign_out_without_the_sessions_csrf_token_is_refused_and_signs_nobody_out() {
    let app = spawn_app().await;
    let v = Visitor::new(&app);
    v.sign_in_with_link(&link(&app, Role::Sdr, Some("rep-1")).await)
        .await;
    let csrf = v.csrf().await;
    let other = Visitor::new(&app);
    other
        .sign_in_with_link(&link(&app, Role::Admin, None).await)
        .await;
    let someone_elses = other.csrf().await;
    for form in [
        vec![],
        vec![("_csrf", "")],
        vec![("_csrf", "not-the-token")],
        vec![("_csrf", someone_elses.as_str())],
        vec![("_csrf", &csrf[..csrf.len() - 1])],
    ] {
        let res = v.post("/app/sign-out", &form).await;
        assert_eq!(res.status(), 403, "{form:?}");
        assert!(res.text().await.unwrap().contains("not from this session"));
        assert!(v.signed_in().await, "{form:?} changed nothing");
    }
    let ended = "SELECT count(*) FROM sessions WHERE signed_out_at IS NOT NULL";
    let n: i64 = sqlx::query_scalar(ended)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);

    let old = v.cookie("salgate_session").unwrap();
    let res = v.post("/app/sign-out", &[("_csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/app/login");
    assert!(
        v.cookie("salgate_session").is_none(),
        "the cookie is deleted"
    );
    // The browser forgets the cookie; the server forgets the session, should it be kept.
    v.set_cookie("salgate_session", &old);
    assert!(!v.signed_in().await);
    assert!(other.signed_in().await, "only that session ended");
}

#[tokio::test]
async fn failed_key_sign_ins_and_link_uses_share_the_per_address_limit_of_api_authentication() {
    let app = spawn_app_with(|s| {
        s.unauthenticated_rate_limit_per_second = 0.01;
        s.unauthenticated_rate_limit_burst = 3;
    })
    .await;
    let v = Visitor::new(&app);
    let good = app.key(Role::Sdr, Some("rep-1")).await;
    assert_eq!(v.get("/app/login").await.status(), 200);
    for wrong in ["sg_nope", &salgate::db::api_keys::generate_token()] {
        assert_eq!(v.submit_key(wrong, "/app").await.status(), 422, "{wrong}");
    }
    // A spent or unknown link is a failed attempt too.
    let unknown = salgate::db::sessions::generate_token("sl_");
    assert_eq!(v.open_link(&unknown).await.status(), 404);
    // Out of tries: even the right key and a good link are refused, with no query.
    let res = v.submit_key(&good, "/app").await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "{wait}");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("too many failed sign-ins"));
    let fresh = link(&app, Role::Sdr, Some("rep-1")).await;
    assert_eq!(v.open_link(&fresh).await.status(), 429);
    assert_eq!(app.count("sessions").await, 0);
    // The API's bucket is the same one.
    assert_eq!(app.get("/v1/leads", "sg_nope").await.status(), 429);
}

#[tokio::test]
async fn successful_sign_ins_spend_no_tries() {
    let app = spawn_app_with(|s| {
        s.unauthenticated_rate_limit_per_second = 0.01;
        s.unauthenticated_rate_limit_burst = 2;
    })
    .await;
    let good = app.key(Role::Revops, None).await;
    for _ in 0..5 {
        Visitor::new(&app).sign_in_with_key(&good).await;
        Visitor::new(&app)
            .sign_in_with_link(&link(&app, Role::Revops, None).await)
            .await;
    }
    assert_eq!(app.count("sessions").await, 10);
}

#[tokio::test]
async fn an_htmx_request_without_a_session_sends_the_whole_page_to_sign_in() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let htmx = |method: reqwest::Method, current: String| {
        // A poll of the page, and a form posted by htmx.
        let path = if method == reqwest::Method::GET {
            "/app"
        } else {
            "/app/sign-out"
        };
        client
            .request(method, app.url(path))
            .header("hx-request", "true")
            .header("hx-current-url", current)
            .send()
    };
    let here = format!("{}/app?view=queue", app.address);
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let res = htmx(method.clone(), here.clone()).await.unwrap();
        assert_eq!(
            res.status(),
            200,
            "{method}: not a redirect the browser would follow"
        );
        assert_eq!(
            res.headers()["hx-redirect"],
            "/app/login?next=/app%3Fview%3Dqueue"
        );
    }
    let res = htmx(reqwest::Method::GET, "https://evil.example/".into())
        .await
        .unwrap();
    assert_eq!(res.headers()["hx-redirect"], "/app/login?next=/app");
    // Without htmx, the plain redirect.
    let res = client.get(app.url("/app")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers().get("hx-redirect").is_none());
}
