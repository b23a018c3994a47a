//! Sessions live in PostgreSQL: a session opened on one replica is served by another, and
//! signing out on one ends it on both.

use salgate::domain::Role;

use crate::helpers::{spawn_app, spawn_replica, TestApp};

/// Signs in with `key` on `app` and returns the session cookie (`salgate_session=…`).
async fn sign_in(app: &TestApp, key: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/app/login")).send().await.unwrap();
    let login = cookie(&page, "salgate_login");
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "_csrf");
    let res = client
        .post(app.url("/app/login"))
        .header("cookie", login)
        .form(&[("_csrf", csrf.as_str()), ("api_key", key), ("next", "/app")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "a key sign-in redirects");
    cookie(&res, "salgate_session")
}

/// `name=value` of the `Set-Cookie` for `name`.
fn cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie"))
        .to_string()
}

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

async fn status_of_app_page(app: &TestApp, session: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(app.url("/app"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_session_opened_on_one_replica_is_served_by_another_and_signing_out_ends_it_on_both() {
    let a = spawn_app().await;
    let b = spawn_replica(&a, |_| {}).await;
    let key = a.key(Role::Sdr, Some("rep-1")).await;
    let session = sign_in(&a, &key).await;

    let (status, html) = status_of_app_page(&b, &session).await;
    assert_eq!(status, 200, "the other replica serves the session");
    assert!(html.contains("rep-1 (sdr)"), "{html}");

    let csrf = hidden(&html, "_csrf");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let out = client
        .post(b.url("/app/sign-out"))
        .header("cookie", &session)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    for replica in [&a, &b] {
        let (status, _) = status_of_app_page(replica, &session).await;
        assert_eq!(
            status, 303,
            "a signed-out session sends to sign-in on every replica"
        );
    }
}
