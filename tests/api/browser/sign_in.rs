//! Signing in to the pages with an API key and with a one-time link, and signing out.

use salgate::domain::Role;

use super::Browser;
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_person_signs_in_with_an_sdr_key_sees_who_they_are_and_signs_out() {
    let app = spawn_app().await;
    let sdr = app.key(Role::Sdr, Some("rep-1")).await;
    let b = Browser::open(&app).await;
    b.goto("/app").await;
    assert!(
        b.path().await.starts_with("/app/sign-in"),
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
    assert!(b.path().await.starts_with("/app/sign-in"));
    b.close().await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_next_to_its_field_and_opens_no_session() {
    let app = spawn_app().await;
    let ingest = app.key(Role::Ingest, None).await;
    let b = Browser::open(&app).await;
    b.goto("/app/sign-in").await;
    b.fill("#api_key", &ingest).await;
    b.click("form[action='/app/sign-in'] button[type=submit]")
        .await;
    let error = b.text("#api_key-error").await;
    assert!(error.contains("ingest key is for CRMs"), "{error}");
    assert_eq!(app.count("sessions").await, 0);
    b.close().await;
}
