//! What every `/app` response carries (CSP, no sniffing, no caching of pages, a year for hashed
//! assets), the cookies' attributes, and requests refused before they change anything:
//! off-site `next`, a sign-in without its login cookie, bodies over 64 KiB, unknown paths.

use reqwest::{header, Response};
use salgate::domain::Role;

use super::{link, set_cookies, Visitor};
use crate::helpers::{spawn_app, spawn_app_with};

fn header_of(res: &Response, name: header::HeaderName) -> &str {
    res.headers()
        .get(&name)
        .unwrap_or_else(|| panic!("no {name} on {}", res.url()))
        .to_str()
        .unwrap()
}

/// The headers every response under /app has.
fn assert_page_headers(res: &Response) {
    let csp = header_of(res, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header_of(res, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header_of(res, header::REFERRER_POLICY), "no-referrer");
}

/// The URLs of the stylesheet and scripts a page links to.
fn asset_urls(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?:href|src)="(/app/assets/[0-9a-f]{16}/[^"]+)""#).unwrap();
    re.captures_iter(html).map(|c| c[1].to_string()).collect()
}

#[tokio::test]
async fn every_app_response_has_the_strict_headers_and_only_hashed_assets_are_cached() {
    let app = spawn_app().await;
    let v = Visitor::new(&app);
    let res = v.get("/app/login").await;
    assert_page_headers(&res);
    assert_eq!(header_of(&res, header::CACHE_CONTROL), "no-store");
    let html = res.text().await.unwrap();
    let assets = asset_urls(&html);
    assert_eq!(assets.len(), 3, "{html}");
    assert!(
        !html.contains("<style") && !html.contains(" style="),
        "nothing inline"
    );
    assert!(!html.contains("<script>"), "no inline script");

    v.sign_in_with_link(&link(&app, Role::Sdr, Some("rep-1")).await)
        .await;
    let csrf = v.csrf().await;
    let pages = [
        v.get("/app").await,
        v.get("/app/login/sl_nothing").await,
        v.get("/app/no/such/page").await,
        v.get("/app/sign-out").await,
        v.post("/app/sign-out", &[]).await,
        v.post("/app", &[]).await,
    ];
    let statuses: Vec<u16> = pages.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 404, 404, 405, 403, 405]);
    for res in &pages {
        assert_page_headers(res);
        assert_eq!(
            header_of(res, header::CACHE_CONTROL),
            "no-store",
            "{}",
            res.url()
        );
    }
    for url in &assets {
        let res = v.get(url).await;
        assert_eq!(res.status(), 200, "{url}");
        assert_page_headers(&res);
        assert_eq!(
            header_of(&res, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        // The same name under another hash (an old page after an upgrade) is not kept.
        let (prefix, name) = url.rsplit_once('/').unwrap();
        let stale = format!(
            "{}/{}/{name}",
            prefix.rsplit_once('/').unwrap().0,
            "0".repeat(16)
        );
        let res = v.get(&stale).await;
        assert_eq!(res.status(), 200, "{stale}");
        let cache = header_of(&res, header::CACHE_CONTROL);
        assert!(
            !cache.contains("immutable") && !cache.contains("max-age"),
            "{cache}"
        );
    }
    assert!(v
        .post("/app/sign-out", &[("_csrf", &csrf)])
        .await
        .status()
        .is_redirection());
}

#[tokio::test]
async fn cookies_are_http_only_lax_limited_to_app_and_secure_only_behind_https() {
    for (public_url, secure) in [(None, false), (Some("https://salgate.example"), true)] {
        let app = spawn_app_with(|s| s.public_url = public_url.map(String::from)).await;
        let v = Visitor::new(&app);
        let page = v.get("/app/login").await;
        let login = set_cookies(&page, "salgate_login");
        let res = v
            .submit_key(&app.key(Role::Admin, None).await, "/app")
            .await;
        assert_eq!(res.status(), 303);
        let session = set_cookies(&res, "salgate_session");
        let cleared = set_cookies(&res, "salgate_login");
        assert_eq!((login.len(), session.len(), cleared.len()), (1, 1, 1));
        assert!(
            cleared[0].contains("Max-Age=0"),
            "the login cookie is spent"
        );
        for c in [&login[0], &session[0]] {
            let attrs: Vec<&str> = c.split("; ").collect();
            for want in ["HttpOnly", "SameSite=Lax", "Path=/app"] {
                assert!(attrs.contains(&want), "{want} in {c}");
            }
            assert_eq!(attrs.contains(&"Secure"), secure, "{public_url:?}: {c}");
        }
        assert!(
            session[0].contains("Max-Age=43200"),
            "12 hours: {}",
            session[0]
        );
    }
}

#[tokio::test]
async fn sign_in_never_sends_anyone_off_site() {
    let app = spawn_app().await;
    let key = app.key(Role::Revops, None).await;
    let v = Visitor::new(&app);
    let page = v.get("/app/login?next=https://evil.example").await;
    let html = page.text().await.unwrap();
    assert!(!html.contains("evil.example"), "{html}");
    for next in [
        "https://evil.example",
        "//evil.example",
        "/app\\@evil.example",
        "/app.evil.example",
        "/app/\r\nSet-Cookie: x=1",
    ] {
        let v = Visitor::new(&app);
        v.get("/app/login").await;
        let res = v.submit_key(&key, next).await;
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], "/app", "{next:?}");
    }
    let v = Visitor::new(&app);
    v.get("/app/login").await;
    let res = v.submit_key(&key, "/app/leads?state=routed").await;
    assert_eq!(
        res.headers()["location"],
        "/app/leads?state=routed",
        "a page of ours is fine"
    );
}

#[tokio::test]
async fn a_sign_in_without_its_login_cookie_is_refused_and_opens_no_session() {
    let app = spawn_app().await;
    let key = app.key(Role::Admin, None).await;
    let token = link(&app, Role::Admin, None).await;
    // A page elsewhere posting a sign-in form (login CSRF): no login cookie, or another one.
    let v = Visitor::new(&app);
    let res = v
        .post("/app/login", &[("_csrf", "x"), ("api_key", &key)])
        .await;
    assert_eq!(res.status(), 403);
    let res = v
        .post(&format!("/app/login/{token}"), &[("_csrf", "x")])
        .await;
    assert_eq!(res.status(), 403);
    v.get("/app/login").await;
    let res = v
        .post(
            "/app/login",
            &[("_csrf", "not-the-cookie"), ("api_key", &key)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.count("sessions").await, 0);
    let unused = "SELECT count(*) FROM sign_in_links WHERE used_at IS NULL";
    let n: i64 = sqlx::query_scalar(unused)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "the link is not spent by a refused form");
    v.sign_in_with_link(&token).await;
}

#[tokio::test]
async fn forms_over_64_kib_are_refused_with_400_and_change_nothing() {
    let app = spawn_app().await;
    let v = Visitor::new(&app);
    v.sign_in_with_link(&link(&app, Role::Sdr, Some("rep-1")).await)
        .await;
    let csrf = v.csrf().await;
    let big = |prefix: String, n: usize| format!("{prefix}&note={}", "x".repeat(n)).into_bytes();
    let res = v
        .post_raw("/app/sign-out", big(format!("_csrf={csrf}"), 70 * 1024))
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("larger than 64 KiB"));
    assert!(v.signed_in().await, "not signed out");
    // A form just under the limit is read.
    let res = v
        .post_raw("/app/sign-out", big(format!("_csrf={csrf}"), 60 * 1024))
        .await;
    assert_eq!(res.status(), 303);

    let key = app.key(Role::Admin, None).await;
    let anon = Visitor::new(&app);
    anon.get("/app/login").await;
    let login = anon.cookie("salgate_login").unwrap();
    for size in [70 * 1024, 3 * 1024 * 1024] {
        let body = big(format!("_csrf={login}&api_key={key}"), size);
        let res = anon.post_raw("/app/login", body).await;
        assert_eq!(res.status(), 400, "{size}");
    }
    assert_eq!(app.count("sessions").await, 1, "only the first visitor's");
}

#[tokio::test]
async fn unknown_paths_under_app_are_an_html_404_page() {
    let app = spawn_app().await;
    let v = Visitor::new(&app);
    for path in [
        "/app/xyz",
        "/app/",
        "/app/leads/nope/more/deeper",
        "/app/assets/nohash",
    ] {
        let res = v.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_page_headers(&res);
        assert!(
            header_of(&res, header::CONTENT_TYPE).starts_with("text/html"),
            "{path}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("there is no such page"), "{path}: {html}");
    }
    // The API keeps its own answer.
    let res = app.get("/v1/nope", &app.admin).await;
    assert_eq!(
        header_of(&res, header::CONTENT_TYPE),
        "application/problem+json"
    );
}
