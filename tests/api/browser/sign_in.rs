//! Signing in to the pages with an API key and with a one-time link, and signing out.

use chrono::Duration;
use fantoccini::Locator;
use salgate::{
    clock::Clock, db::sessions::create_link, domain::Role, pages::session::COOKIE,
    service::people::LINK_TTL,
};

use super::Browser;
use crate::helpers::{spawn_app, TestApp};

#[tokio::test]
async fn a_person_signs_in_with_an_sdr_key_sees_who_they_are_and_signs_out() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let b = Browser::open(&app).await;
    b.goto("/app").await;
    assert!(
        b.path().await.starts_with("/app/login"),
        "{}",
        b.path().await
    );
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("sign-in").await;
    b.sign_in_with_key(&sdr).await;
    assert_eq!(b.path().await, "/app");
    assert_eq!(b.text(".who").await, "rep-1 (sdr)");
    b.click("form.sign-out button").await;
    b.find("#api_key").await;
    b.goto("/app").await;
    assert!(b.path().await.starts_with("/app/login"));
    b.close().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_next_to_its_field_and_opens_no_session() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let b = Browser::open(&app).await;
    b.goto("/app/login").await;
    b.fill("#api_key", &ingest).await;
    b.click("form[action='/app/login'] button[type=submit]")
        .await;
    let error = b.text("#api_key-error").await;
    assert!(error.contains("ingest key is for CRMs"), "{error}");
    assert_eq!(app.count("sessions").await, 0);
    b.close().await;
}

/// A link's token, made as `salgate users invite` makes it.
async fn invite(app: &TestApp, role: Role, rep: Option<&str>) -> String {
    let now = app.clock.now();
    create_link(&app.pool, role, rep, "test", now, now + LINK_TTL)
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn a_person_signs_in_once_by_link_and_the_link_then_is_spent() {
    let app = spawn_app().await;
    let token = invite(&app, Role::Sdr, Some("rep-1")).await;
    let b = Browser::open(&app).await;
    b.goto(&format!("/app/login/{token}")).await;
    let button = b.text("form.sign-in-link button").await;
    assert_eq!(button, "Sign in as rep-1 (sdr)");
    assert_eq!(
        app.count("sessions").await,
        0,
        "opening the link spends nothing"
    );
    assert!(b.unlabelled_inputs().await.is_empty());
    b.screenshot("sign-in-link").await;
    b.click("form.sign-in-link button").await;
    assert_eq!(b.text(".who").await, "rep-1 (sdr)");
    assert_eq!(b.path().await, "/app");

    b.goto(&format!("/app/login/{token}")).await;
    let notice = b.text(".notice.error").await;
    assert!(notice.contains("already used, has expired"), "{notice}");
    b.screenshot("sign-in-link-spent").await;
    assert!(b
        .client
        .find(Locator::Css("form.sign-in-link"))
        .await
        .is_err());
    assert_eq!(app.count("sessions").await, 1);
    b.close().await;
}

#[tokio::test]
async fn a_link_past_its_seven_days_is_refused() {
    let app = spawn_app().await;
    let token = invite(&app, Role::Revops, None).await;
    let b = Browser::open(&app).await;
    b.goto(&format!("/app/login/{token}")).await;
    b.find("form.sign-in-link button").await;
    // The page was open while the link ran out: the confirmation is refused too.
    app.clock.advance(LINK_TTL + Duration::seconds(1));
    b.click("form.sign-in-link button").await;
    let notice = b.text(".notice.error").await;
    assert!(notice.contains("has expired"), "{notice}");
    b.goto(&format!("/app/login/{token}")).await;
    assert!(b.text(".notice.error").await.contains("has expired"));
    b.goto("/app").await;
    assert!(b.path().await.starts_with("/app/login"));
    assert_eq!(app.count("sessions").await, 0);
    b.close().await;
}

#[tokio::test]
async fn after_sign_out_the_old_session_cookie_opens_nothing() {
    let app = spawn_app().await;
    let token = invite(&app, Role::Admin, None).await;
    let b = Browser::open(&app).await;
    b.goto(&format!("/app/login/{token}")).await;
    b.click("form.sign-in-link button").await;
    assert_eq!(b.text(".who").await, "admin");
    let cookie = b
        .client
        .get_named_cookie(COOKIE)
        .await
        .expect("the session cookie");
    let old = format!("{COOKIE}={}", cookie.value());
    let with_old = || async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = client
            .get(app.url("/app"))
            .header("cookie", &old)
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    };
    assert_eq!(with_old().await, 200, "the cookie works while signed in");
    b.click("form.sign-out button").await;
    b.find("#api_key").await;
    assert!(
        b.client.get_named_cookie(COOKIE).await.is_err(),
        "the browser dropped it"
    );
    assert_eq!(with_old().await, 303, "and the server no longer knows it");
    b.close().await;
}
