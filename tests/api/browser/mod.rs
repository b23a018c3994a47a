//! Browser tests: a real headless Chromium (Debian's `chromium` and `chromium-driver`) drives
//! the pages over WebDriver (fantoccini). Each test starts its own chromedriver on a free port
//! and its own browser profile; screenshots land in `target/screenshots/` for a reviewer.

mod dashboard;
mod inbox;
mod insights;
mod model_panel;
mod settings;
mod sign_in;

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::helpers::TestApp;

/// A browser session on `app`. Dropping it stops its chromedriver (and so its Chromium).
pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().map(|t| t.join("screenshots")).unwrap_or(tmp);
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    dir
}

impl Browser {
    /// A new headless Chromium at `app`, 1280×900 (or `width`×900 with [`Browser::sized`]).
    pub async fn open(app: &TestApp) -> Browser {
        Browser::sized(app, 1280).await
    }

    pub async fn sized(app: &TestApp, width: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "run chromedriver: install Debian's chromium and chromium-driver (.ci/run does)",
            );
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", format!("--window-size={width},900"),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }
        });
        let mut caps = caps.as_object().cloned().unwrap_or_default();
        // Chromium keeps a window at least ~500 px wide; a phone's width is emulated instead.
        if width < 500 {
            caps["goog:chromeOptions"]["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": 844, "pixelRatio": 1}});
        }
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        // chromedriver takes a moment to listen.
        for _ in 0..100 {
            // Plain HTTP to the local chromedriver: no TLS stack needed.
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Browser {
                        client,
                        base: app.address.clone(),
                        driver,
                        _profile: profile,
                    }
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver on {port} did not start a session: {last:?}");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{}", self.base, path))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// The path (and query) the browser is on.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The element `css`, waited for up to 10 s; failing, it names the page and its text.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(el) => el,
            Err(e) => {
                let path = self.path().await;
                let body = self
                    .eval("return document.body ? document.body.innerText : ''")
                    .await;
                panic!("no element {css} on {path} ({e}); the page reads:\n{body}")
            }
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Waits (up to 10 s) until the browser is on `expected` (path and query): a click that
    /// navigates returns before the new page has arrived.
    pub async fn wait_path(&self, expected: &str) {
        self.wait_path_where(expected, |p| p == expected).await
    }

    /// [`Browser::wait_path`] for a path and query that contain `part`.
    pub async fn wait_path_containing(&self, part: &str) {
        self.wait_path_where(part, |p| p.contains(part)).await
    }

    async fn wait_path_where(&self, what: &str, arrived: impl Fn(&str) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let path = self.path().await;
            if arrived(&path) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("the browser stayed on {path}, not on {what}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear().await.expect("clear");
        el.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    /// Signs in with an API key through the sign-in form.
    pub async fn sign_in_with_key(&self, token: &str) {
        self.goto("/app/login").await;
        self.fill("#api_key", token).await;
        self.click("form[action='/app/login'] button[type=submit]")
            .await;
        self.find("form.sign-out").await;
    }

    /// Writes `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write png");
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Inputs, selects and textareas of the page that no label names (accessibility basics).
    pub async fn unlabelled_inputs(&self) -> Vec<String> {
        let v = self
            .eval(
                "return [...document.querySelectorAll('input:not([type=hidden]),select,textarea')]\
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))\
                 .map(e => e.outerHTML);",
            )
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
