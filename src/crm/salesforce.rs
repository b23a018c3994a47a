//! Salesforce's REST API with the OAuth 2.0 client-credentials flow
//! (`POST {SALGATE_SALESFORCE_LOGIN_URL}/services/oauth2/token`): the token and the instance
//! URL it names are cached, and fetched again when a call answers 401 (that call is then made
//! once more). Lead updates: `PATCH /services/data/v{version}/sobjects/Lead/{Id}` for one,
//! sObject collections (`PATCH …/composite/sobjects`, `allOrNone: false`) for several.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::{
    retry_after, transient_status, url_with, without_url, CallError, RecordResult, Update,
};
use crate::outbound::Policy;

/// The most records one sObject collections request takes.
pub const MAX_BATCH: usize = 200;

/// What the client-credentials flow needs.
#[derive(Debug, Clone)]
pub struct SalesforceSettings {
    /// `SALGATE_SALESFORCE_LOGIN_URL`, e.g. `https://login.salesforce.com` or the org's My
    /// Domain.
    pub login_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// `SALGATE_SALESFORCE_API_VERSION`, e.g. `62.0`.
    pub api_version: String,
}

/// A token and the instance it is for.
#[derive(Debug, Clone, Deserialize)]
struct Token {
    access_token: String,
    instance_url: String,
}

pub struct SalesforceClient {
    client: reqwest::Client,
    settings: SalesforceSettings,
    policy: Policy,
    token: Mutex<Option<Token>>,
}

/// Why a call failed before any record was answered; 401 is told apart (refresh, again).
enum Failure {
    Unauthorized,
    Call(CallError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        Failure::Call(e)
    }
}

impl SalesforceClient {
    /// Fails when the login URL is not one the outbound rules allow.
    pub fn new(settings: SalesforceSettings, policy: Policy) -> Result<SalesforceClient, String> {
        policy.check_url(&settings.login_url)?;
        Ok(SalesforceClient {
            client: policy.client(super::TIMEOUT).map_err(|e| e.to_string())?,
            settings,
            policy,
            token: Mutex::new(None),
        })
    }

    /// Writes `updates` (one result each, in order), with a fresh token once if the cached
    /// one is refused.
    pub async fn write(&self, updates: &[Update]) -> Result<Vec<RecordResult>, CallError> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        for fresh in [false, true] {
            let token = self.token(fresh).await?;
            match self.write_with(&token, updates).await {
                Ok(results) => return Ok(results),
                Err(Failure::Call(e)) => return Err(e),
                Err(Failure::Unauthorized) => {
                    *self.token.lock().await = None;
                }
            }
        }
        Err(CallError::Transient(
            "Salesforce refused a freshly issued token (401)".into(),
        ))
    }

    /// The cached token, or a new one (`fresh`, or none cached).
    async fn token(&self, fresh: bool) -> Result<Token, CallError> {
        let mut cached = self.token.lock().await;
        if let (false, Some(t)) = (fresh, cached.as_ref()) {
            return Ok(t.clone());
        }
        let url = format!(
            "{}/services/oauth2/token",
            self.settings.login_url.trim_end_matches('/')
        );
        let res = self
            .client
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.settings.client_id.as_str()),
                ("client_secret", self.settings.client_secret.as_str()),
            ])
            .send()
            .await
            .map_err(|e| CallError::Transient(format!("Salesforce token: {}", without_url(e))))?;
        let status = res.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(CallError::RateLimited(retry_after(res.headers())));
        }
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let why = body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("no error given");
            return Err(CallError::Transient(format!(
                "Salesforce token: HTTP {}: {why}",
                status.as_u16()
            )));
        }
        let token: Token = serde_json::from_value(body).map_err(|e| {
            CallError::Transient(format!("Salesforce token: unreadable answer: {e}"))
        })?;
        // The instance is named by the answer: it must be a URL the outbound rules allow too.
        self.policy
            .check_url(&token.instance_url)
            .map_err(|why| CallError::Transient(format!("Salesforce instance_url {why}")))?;
        *cached = Some(token.clone());
        Ok(token)
    }

    async fn write_with(
        &self,
        t: &Token,
        updates: &[Update],
    ) -> Result<Vec<RecordResult>, Failure> {
        let version = format!("v{}", self.settings.api_version.trim_start_matches('v'));
        let base = t.instance_url.trim_end_matches('/');
        let (req, one) = match updates {
            [u] => {
                let url = url_with(
                    base,
                    &[
                        "services",
                        "data",
                        &version,
                        "sobjects",
                        "Lead",
                        &u.record_id,
                    ],
                )?;
                (self.client.patch(url).json(&u.properties), true)
            }
            many => {
                let url = url_with(
                    base,
                    &["services", "data", &version, "composite", "sobjects"],
                )?;
                let records: Vec<Value> = many
                    .iter()
                    .map(|u| {
                        let mut r = u.properties.clone();
                        r.insert("attributes".into(), json!({"type": "Lead"}));
                        r.insert("id".into(), json!(u.record_id));
                        Value::Object(r)
                    })
                    .collect();
                let body = json!({"allOrNone": false, "records": records});
                (self.client.patch(url).json(&body), false)
            }
        };
        let res = req
            .bearer_auth(&t.access_token)
            .send()
            .await
            .map_err(|e| CallError::Transient(format!("Salesforce: {}", without_url(e))))?;
        let status = res.status();
        let headers = res.headers().clone();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match status {
            StatusCode::UNAUTHORIZED => Err(Failure::Unauthorized),
            StatusCode::TOO_MANY_REQUESTS => {
                Err(CallError::RateLimited(retry_after(&headers)).into())
            }
            s if s.is_success() && one => Ok(vec![RecordResult::Written]),
            s if s.is_success() => Ok(save_results(updates.len(), &body)),
            // One record: its errors are the body (`[{message, errorCode, fields}]`).
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND if one => {
                Ok(vec![RecordResult::Refused(errors_text(&body))])
            }
            s if transient_status(s) => Err(CallError::Transient(format!(
                "Salesforce: HTTP {}: {}",
                s.as_u16(),
                errors_text(&body)
            ))
            .into()),
            s => Err(CallError::Transient(format!(
                "Salesforce: HTTP {}: {}",
                s.as_u16(),
                errors_text(&body)
            ))
            .into()),
        }
    }
}

/// The SaveResults of a collections request (`[{id, success, errors: [{statusCode, message,
/// fields}]}]`, in request order); a missing one counts as not written (retried).
fn save_results(n: usize, body: &Value) -> Vec<RecordResult> {
    let results = body.as_array().cloned().unwrap_or_default();
    (0..n)
        .map(|i| match results.get(i) {
            Some(r) if r["success"] == true => RecordResult::Written,
            Some(r) => RecordResult::Refused(errors_text(&r["errors"])),
            None => RecordResult::Refused("Salesforce gave no result for this record".into()),
        })
        .collect()
}

/// `STATUS_CODE: message (fields)` for each error of a Salesforce error list.
fn errors_text(errors: &Value) -> String {
    let list = errors.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        return "Salesforce gave no error message".into();
    }
    list.iter()
        .map(|e| {
            let code = e["statusCode"]
                .as_str()
                .or(e["errorCode"].as_str())
                .unwrap_or("ERROR");
            let msg = e["message"].as_str().unwrap_or("");
            let fields: Vec<&str> = e["fields"]
                .as_array()
                .map(|f| f.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if fields.is_empty() {
                format!("{code}: {msg}")
            } else {
                format!("{code}: {msg} ({})", fields.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
