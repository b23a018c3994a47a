//! Signing in to the pages, at the HTTP level: real requests against the real database, for
//! what a browser cannot show (races, exact headers and cookies, refused requests, limits).

mod cli;
mod retention;
mod security;
mod sessions;

use std::sync::Mutex;

use reqwest::{header, redirect::Policy, Response};
use salgate::{clock::Clock, db::sessions::create_link, domain::Role, service::people::LINK_TTL};

use crate::helpers::TestApp;

/// A one-time sign-in link's token, made as the settings page and the CLI make them.
pub async fn link(app: &TestApp, role: Role, rep: Option<&str>) -> String {
    let now = app.clock.now();
    create_link(&app.pool, role, rep, "test", now, now + LINK_TTL)
        .await
        .unwrap()
        .1
}

/// The `Set-Cookie` headers of `res` whose cookie is `name`.
pub fn set_cookies(res: &Response, name: &str) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
        .collect()
}

/// The value of the hidden `_csrf` input of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find(r#"name="_csrf" value=""#)
        .unwrap_or_else(|| panic!("no _csrf input in {html}"));
    let rest = &html[at + r#"name="_csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// A browser without a browser: follows no redirect and keeps the cookies it is given (by
/// hand, as reqwest's cookie store would: name, value, `Max-Age=0` deletes).
pub struct Visitor<'a> {
    pub app: &'a TestApp,
    client: reqwest::Client,
    jar: Mutex<Vec<(String, String)>>,
}

impl<'a> Visitor<'a> {
    pub fn new(app: &'a TestApp) -> Visitor<'a> {
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap();
        Visitor {
            app,
            client,
            jar: Mutex::new(Vec::new()),
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.jar.lock().unwrap();
        jar.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    }

    /// Sends `cookie` as this visitor's cookie `name` (an old one kept aside, say).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let mut jar = self.jar.lock().unwrap();
        jar.retain(|(n, _)| n != name);
        jar.push((name.to_string(), value.to_string()));
    }

    fn keep(&self, res: &Response) {
        let mut jar = self.jar.lock().unwrap();
        for v in res.headers().get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            jar.retain(|(n, _)| n != name);
            if !v.contains("Max-Age=0") {
                jar.push((name.to_string(), value.to_string()));
            }
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.jar.lock().unwrap();
        let pairs: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
        pairs.join("; ")
    }

    pub async fn get(&self, path: &str) -> Response {
        let res = self
            .client
            .get(self.app.url(path))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(&res);
        res
    }

    /// POSTs `body` as a form.
    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Response {
        let res = self
            .client
            .post(self.app.url(path))
            .header(header::COOKIE, self.cookie_header())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST");
        self.keep(&res);
        res
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        let body = serde_urlencoded::to_string(form).unwrap();
        self.post_raw(path, body.into_bytes()).await
    }

    /// Opens the link page, as a browser does, so that the login cookie is set.
    pub async fn open_link(&self, token: &str) -> Response {
        self.get(&format!("/app/login/{token}")).await
    }

    /// Confirms the sign-in of a link page opened before.
    pub async fn confirm_link(&self, token: &str) -> Response {
        let login = self.cookie("salgate_login").unwrap_or_default();
        self.post(&format!("/app/login/{token}"), &[("_csrf", &login)])
            .await
    }

    /// Signs in with a link (page, then confirmation); panics unless it worked.
    pub async fn sign_in_with_link(&self, token: &str) {
        assert_eq!(self.open_link(token).await.status(), 200);
        let res = self.confirm_link(token).await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
        assert!(self.cookie("salgate_session").is_some());
    }

    /// Submits the key form of a sign-in page opened before.
    pub async fn submit_key(&self, key: &str, next: &str) -> Response {
        let login = self.cookie("salgate_login").unwrap_or_default();
        let form = [("_csrf", login.as_str()), ("api_key", key), ("next", next)];
        self.post("/app/login", &form).await
    }

    /// Signs in with an API key through the sign-in page; panics unless it worked.
    pub async fn sign_in_with_key(&self, key: &str) {
        assert_eq!(self.get("/app/login").await.status(), 200);
        let res = self.submit_key(key, "/app").await;
        assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    }

    /// The CSRF token of this visitor's session, read from a page as a form would.
    pub async fn csrf(&self) -> String {
        let res = self.get("/app").await;
        assert_eq!(res.status(), 200);
        csrf_of(&res.text().await.unwrap())
    }

    /// Whether `/app` is served to this visitor (rather than a redirect to sign-in).
    pub async fn signed_in(&self) -> bool {
        let res = self.get("/app").await;
        match res.status().as_u16() {
            200 => true,
            303 => {
                let to = res.headers()[header::LOCATION].to_str().unwrap();
                assert!(to.starts_with("/app/login?next="), "{to}");
                false
            }
            other => panic!("/app answered {other}"),
        }
    }
}
