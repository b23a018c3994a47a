//! HubSpot's CRM API with a private-app token (`SALGATE_HUBSPOT_ACCESS_TOKEN`): contact
//! updates (`PATCH /crm/v3/objects/contacts/{id}`, or `POST …/contacts/batch/update` for
//! several), and the custom properties `salgate crm setup hubspot` creates.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    retry_after, transient_status, url_with, without_url, CallError, RecordResult, Update,
};
use crate::outbound::Policy;

/// The most contacts one batch update takes.
pub const MAX_BATCH: usize = 100;

/// A client of one portal's API.
pub struct HubspotClient {
    client: reqwest::Client,
    /// `SALGATE_HUBSPOT_API_URL` without a trailing slash.
    base: String,
    token: String,
}

impl HubspotClient {
    /// Fails when `base` is not a URL the outbound rules allow.
    pub fn new(base: &str, token: &str, policy: Policy) -> Result<HubspotClient, String> {
        policy.check_url(base)?;
        Ok(HubspotClient {
            client: policy.client(super::TIMEOUT).map_err(|e| e.to_string())?,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// Writes `updates`: one `PATCH` for one contact, a batch update for several. A batch
    /// HubSpot refuses as a whole (400: one bad property value fails it) is written again one
    /// contact at a time, so only the contact at fault is refused.
    pub async fn write(&self, updates: &[Update]) -> Result<Vec<RecordResult>, CallError> {
        match updates {
            [] => Ok(Vec::new()),
            [one] => Ok(vec![self.patch(one).await?]),
            many => match self.batch(many).await? {
                Some(results) => Ok(results),
                None => {
                    let mut out = Vec::with_capacity(many.len());
                    for u in many {
                        out.push(self.patch(u).await?);
                    }
                    Ok(out)
                }
            },
        }
    }

    async fn patch(&self, u: &Update) -> Result<RecordResult, CallError> {
        let url = url_with(
            &self.base,
            &["crm", "v3", "objects", "contacts", &u.record_id],
        )?;
        let res = self
            .client
            .patch(url)
            .bearer_auth(&self.token)
            .json(&json!({"properties": u.properties}))
            .send()
            .await
            .map_err(|e| CallError::Transient(format!("HubSpot: {}", without_url(e))))?;
        let status = res.status();
        if status.is_success() {
            return Ok(RecordResult::Written);
        }
        let headers = res.headers().clone();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match status {
            StatusCode::TOO_MANY_REQUESTS => Err(CallError::RateLimited(retry_after(&headers))),
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::CONFLICT => {
                Ok(RecordResult::Refused(message(status, &body)))
            }
            s if transient_status(s) => Err(CallError::Transient(message(s, &body))),
            // 401, 403: the token; retried (with backoff) until it is fixed or retries run out.
            s => Err(CallError::Transient(message(s, &body))),
        }
    }

    /// One batch update; `None` when HubSpot refused the batch as a whole (400).
    async fn batch(&self, updates: &[Update]) -> Result<Option<Vec<RecordResult>>, CallError> {
        let url = format!("{}/crm/v3/objects/contacts/batch/update", self.base);
        let inputs: Vec<Value> = updates
            .iter()
            .map(|u| json!({"id": u.record_id, "properties": u.properties}))
            .collect();
        let res = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .json(&json!({ "inputs": inputs }))
            .send()
            .await
            .map_err(|e| CallError::Transient(format!("HubSpot: {}", without_url(e))))?;
        let status = res.status();
        let headers = res.headers().clone();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match status {
            StatusCode::OK | StatusCode::CREATED => {
                Ok(Some(vec![RecordResult::Written; updates.len()]))
            }
            // Multi-status: `errors[]` name the ids they concern in `context.ids`.
            StatusCode::MULTI_STATUS => Ok(Some(per_record(updates, &body))),
            StatusCode::TOO_MANY_REQUESTS => Err(CallError::RateLimited(retry_after(&headers))),
            StatusCode::BAD_REQUEST => Ok(None),
            s => Err(CallError::Transient(message(s, &body))),
        }
    }

    /// Creates each of `props` that the portal does not have yet (a `GET` first); returns the
    /// names created.
    pub async fn ensure_properties(&self, props: &[Value]) -> Result<Vec<String>, String> {
        let mut created = Vec::new();
        for p in props {
            let name = p["name"].as_str().unwrap_or_default();
            let url = format!("{}/crm/v3/properties/contacts/{name}", self.base);
            let res = self
                .client
                .get(&url)
                .bearer_auth(&self.token)
                .send()
                .await
                .map_err(without_url)?;
            match res.status() {
                s if s.is_success() => continue,
                StatusCode::NOT_FOUND => {}
                s => {
                    let body: Value = res.json().await.unwrap_or(Value::Null);
                    return Err(format!("reading property {name}: {}", message(s, &body)));
                }
            }
            let res = self
                .client
                .post(format!("{}/crm/v3/properties/contacts", self.base))
                .bearer_auth(&self.token)
                .json(p)
                .send()
                .await
                .map_err(without_url)?;
            let s = res.status();
            if !s.is_success() {
                let body: Value = res.json().await.unwrap_or(Value::Null);
                return Err(format!("creating property {name}: {}", message(s, &body)));
            }
            created.push(name.to_string());
        }
        Ok(created)
    }
}

/// The property definitions salgate writes besides `hs_lead_status` and `hubspot_owner_id`
/// (`POST /crm/v3/properties/contacts` bodies), named as `mapping` names them.
pub fn property_definitions(mapping: &super::CrmMapping) -> Vec<Value> {
    let defs = [
        ("state", "SAL state", "string", "text"),
        ("rejection_code", "SAL rejection code", "string", "text"),
        ("accepted_by", "SAL accepted by", "string", "text"),
        ("accepted_at", "SAL accepted at", "datetime", "date"),
        ("sla_status", "SAL SLA status", "string", "text"),
        ("sla_due_at", "SAL SLA due at", "datetime", "date"),
    ];
    defs.iter()
        .filter_map(|(key, label, kind, field_type)| {
            mapping.field(key).map(|name| {
                json!({"name": name, "label": label, "type": kind, "fieldType": field_type,
                       "groupName": "contactinformation",
                       "description": "Written by salgate, the SAL gate."})
            })
        })
        .collect()
}

/// One result per update from a 207: an update whose id an error names is refused with that
/// error's message; the others were written.
fn per_record(updates: &[Update], body: &Value) -> Vec<RecordResult> {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    updates
        .iter()
        .map(|u| {
            let named = errors.iter().find(|e| {
                e["context"]["ids"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(&u.record_id)))
            });
            match named {
                Some(e) => RecordResult::Refused(
                    e["message"]
                        .as_str()
                        .unwrap_or("refused by HubSpot")
                        .to_string(),
                ),
                None => RecordResult::Written,
            }
        })
        .collect()
}

/// HubSpot's error message (`{status, message, category}`), or the status.
fn message(status: StatusCode, body: &Value) -> String {
    match body["message"].as_str() {
        Some(m) => format!("HubSpot {}: {m}", status.as_u16()),
        None => format!("HubSpot: HTTP {status}"),
    }
}
