//! Calls to Slack's Web API (`chat.postMessage`, `chat.update`, `views.open`) and to the
//! `response_url` of an interaction, under the outbound rules of `src/outbound` (https, no
//! redirect, no private or internal target after DNS; loopback only with
//! `SALGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS`, as the tests' local mock needs).

use std::time::Duration;

use reqwest::{header::RETRY_AFTER, StatusCode};
use serde_json::Value;

use crate::outbound::Policy;

/// How long one call may take: Slack answers in well under a second, and an interaction's
/// `views.open` must finish within Slack's 3 s.
const TIMEOUT: Duration = Duration::from_secs(2);

/// When a 429 carries no usable `Retry-After`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where `hooks.slack.com` response URLs live.
const RESPONSE_URL_BASE: &str = "https://hooks.slack.com/";

/// Why a call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// HTTP 429: try again after this long.
    RateLimited(Duration),
    /// Worth retrying: a network failure, a 5xx, or one of Slack's transient errors.
    Transient(String),
    /// Retrying cannot help: bad token, unknown channel, invalid blocks, …
    Permanent(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::RateLimited(d) => write!(f, "rate limited for {} s", d.as_secs()),
            CallError::Transient(e) | CallError::Permanent(e) => f.write_str(e),
        }
    }
}

/// A client of the Web API with the bot token.
pub struct SlackApi {
    client: reqwest::Client,
    /// `SALGATE_SLACK_API_URL` without a trailing slash, e.g. `https://slack.com/api`.
    base: String,
    token: Option<String>,
    policy: Policy,
}

impl SlackApi {
    /// Fails when `base` is not a URL the outbound rules allow.
    pub fn new(base: &str, token: Option<String>, policy: Policy) -> Result<SlackApi, String> {
        policy.check_url(base)?;
        let client = policy.client(TIMEOUT).map_err(|e| e.to_string())?;
        Ok(SlackApi {
            client,
            base: base.trim_end_matches('/').to_string(),
            token,
            policy,
        })
    }

    /// Calls `method` with a JSON body; the answer when Slack says `"ok": true`. Counted in
    /// `salgate_slack_calls_total`.
    pub async fn call(&self, method: &'static str, body: &Value) -> Result<Value, CallError> {
        let answer = self.call_uncounted(method, body).await;
        count(method, &answer);
        answer
    }

    async fn call_uncounted(&self, method: &str, body: &Value) -> Result<Value, CallError> {
        let token = self.token.as_deref().ok_or_else(|| {
            CallError::Permanent("SALGATE_SLACK_BOT_TOKEN is not set".to_string())
        })?;
        let url = format!("{}/{method}", self.base);
        let res = self
            .client
            .post(&url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| CallError::Transient(format!("{method}: {}", without_url(&e))))?;
        let status = res.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(CallError::RateLimited(retry_after(res.headers())));
        }
        if !status.is_success() {
            let why = format!("{method}: HTTP {status}");
            return Err(
                if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
                    CallError::Transient(why)
                } else {
                    CallError::Permanent(why)
                },
            );
        }
        let answer: Value = res
            .json()
            .await
            .map_err(|e| CallError::Transient(format!("{method}: unreadable answer: {e}")))?;
        if answer["ok"] == true {
            return Ok(answer);
        }
        let error = answer["error"].as_str().unwrap_or("no error given");
        Err(classify(method, error))
    }

    /// Posts `body` (a message: `text`, `response_type`, `replace_original`) to an
    /// interaction's `response_url`, which must be Slack's (see [`SlackApi::response_url_ok`]).
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), CallError> {
        let answer = self.respond_uncounted(response_url, body).await;
        count("response_url", &answer);
        answer
    }

    async fn respond_uncounted(&self, response_url: &str, body: &Value) -> Result<(), CallError> {
        if !self.response_url_ok(response_url) {
            return Err(CallError::Permanent(
                "response_url is not a hooks.slack.com URL".to_string(),
            ));
        }
        let res = self
            .client
            .post(response_url)
            .json(body)
            .send()
            .await
            .map_err(|e| CallError::Transient(format!("response_url: {}", without_url(&e))))?;
        match res.status() {
            s if s.is_success() => Ok(()),
            StatusCode::TOO_MANY_REQUESTS => {
                Err(CallError::RateLimited(retry_after(res.headers())))
            }
            s => Err(CallError::Transient(format!("response_url: HTTP {s}"))),
        }
    }

    /// A response URL is Slack's (`https://hooks.slack.com/…`), or, only where private
    /// networks are allowed (tests, on-premise), on the same origin as the configured API
    /// URL: anything else would let a forged payload make the service post anywhere.
    pub fn response_url_ok(&self, raw: &str) -> bool {
        let Ok(url) = self.policy.check_url(raw) else {
            return false;
        };
        if raw.starts_with(RESPONSE_URL_BASE) && url.host_str() == Some("hooks.slack.com") {
            return true;
        }
        let base = reqwest::Url::parse(&self.base).ok();
        self.policy.allow_private && base.is_some_and(|b| b.origin() == url.origin())
    }
}

/// One call to Slack, by method (the code's own names: a closed set) and result.
fn count<T>(method: &'static str, answer: &Result<T, CallError>) {
    let result = match answer {
        Ok(_) => "ok",
        Err(CallError::RateLimited(_)) => "rate_limited",
        Err(CallError::Transient(_)) => "transient",
        Err(CallError::Permanent(_)) => "permanent",
    };
    metrics::counter!("salgate_slack_calls_total", "method" => method, "result" => result)
        .increment(1);
}

/// The error without the URL reqwest puts in it (no secret is in it, but it is noise).
fn without_url(e: &reqwest::Error) -> String {
    let e = e.to_string();
    e.split(" for url").next().unwrap_or(&e).to_string()
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_RETRY_AFTER)
}

/// Slack's `"ok": false` errors that a later attempt can get past; every other error (bad
/// token, missing scope, unknown or archived channel, invalid blocks, …) stays.
const TRANSIENT: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
    "message_limit_exceeded",
];

/// `error` of an `"ok": false` answer to `method`, as a [`CallError`].
pub fn classify(method: &str, error: &str) -> CallError {
    let why = format!("{method}: {error}");
    if TRANSIENT.contains(&error) {
        CallError::Transient(why)
    } else {
        CallError::Permanent(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_errors_are_permanent_unless_known_transient() {
        for e in [
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "invalid_auth",
            "not_authed",
            "token_revoked",
            "account_inactive",
            "missing_scope",
            "invalid_blocks",
            "msg_too_long",
        ] {
            assert!(
                matches!(classify("chat.postMessage", e), CallError::Permanent(_)),
                "{e}"
            );
        }
        for e in [
            "ratelimited",
            "internal_error",
            "fatal_error",
            "service_unavailable",
        ] {
            assert!(
                matches!(classify("chat.postMessage", e), CallError::Transient(_)),
                "{e}"
            );
        }
    }

    #[test]
    fn response_urls_are_slacks_or_the_local_mocks() {
        let strict = SlackApi::new("https://slack.com/api", None, Policy::default()).unwrap();
        assert!(strict.response_url_ok("https://hooks.slack.com/actions/T1/2/abc"));
        for bad in [
            "http://hooks.slack.com/actions/T1/2/abc",
            "https://hooks.slack.com.evil.example/actions",
            "https://evil.example/https://hooks.slack.com/",
            "https://user@hooks.slack.com/actions",
            "https://slack.com/api/chat.postMessage",
            "http://127.0.0.1:9000/hook",
        ] {
            assert!(!strict.response_url_ok(bad), "{bad}");
        }
        let local = Policy {
            allow_private: true,
        };
        let mock = SlackApi::new("http://127.0.0.1:9000/api", None, local).unwrap();
        assert!(mock.response_url_ok("http://127.0.0.1:9000/respond/1"));
        assert!(!mock.response_url_ok("http://127.0.0.1:9001/respond/1"));
        assert!(!mock.response_url_ok("http://10.0.0.1:9000/respond/1"));
    }
}
