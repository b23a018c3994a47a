//! CRM write-back and decisions made in the CRM, against a local mock of HubSpot's and
//! Salesforce's APIs (axum on port 0) answering in the shapes of their documentation: HubSpot's
//! contact PATCH and batch update (200, 207 multi-status, 400 VALIDATION_ERROR, 429 with
//! Retry-After), Salesforce's client-credentials token, Lead PATCH and sObject collections
//! (SaveResults with `{statusCode, message, fields}` errors, 401 for an expired token).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, patch, post},
    Json, Router,
};
use salgate::{
    config::Settings, crm::salesforce::SalesforceSettings, jobs::crm_writer::CrmWriter,
    outbound::Policy,
};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

mod decisions;
mod failures;
mod writeback;

pub const HUBSPOT_TOKEN: &str = "pat-na1-test";
pub const HUBSPOT_SECRET: &str = "hs-app-secret";
pub const SF_CLIENT_ID: &str = "3MVG9-client-id";
pub const SF_CLIENT_SECRET: &str = "sf-client-secret";
pub const ORG: &str = "00D5g000004ABCDEA4";
pub const SF_OUTBOUND_TOKEN: &str = "sf-outbound-message-token-0123456789";

/// The lead statuses the mock portal and org accept (HubSpot's default options; Salesforce's
/// default picklist, without a `Recycled` value until an admin adds it).
const HS_STATUSES: &[&str] = &[
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
];
const SF_STATUSES: &[&str] = &[
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
];

/// One record update the mock received, with the call it came in.
#[derive(Debug, Clone)]
pub struct Write {
    pub crm: &'static str,
    pub record: String,
    pub properties: Value,
    /// `patch`, `batch` (HubSpot batch update) or `collection` (sObject collections).
    pub call: &'static str,
}

/// A scripted answer for the next API call (tokens excepted).
#[derive(Debug, Clone)]
pub enum Scripted {
    RateLimited { retry_after: u64 },
}

#[derive(Default)]
struct Inner {
    writes: Vec<Write>,
    calls: usize,
    tokens_issued: usize,
    /// Salesforce tokens the mock accepts now.
    valid_token: Option<String>,
    script: VecDeque<Scripted>,
    properties: Vec<Value>,
    delay: Duration,
}

#[derive(Clone)]
pub struct MockCrm {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl MockCrm {
    pub async fn start() -> MockCrm {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mock = MockCrm {
            url,
            inner: Arc::default(),
        };
        let app = Router::new()
            .route("/crm/v3/objects/contacts/batch/update", post(hs_batch))
            .route("/crm/v3/objects/contacts/{id}", patch(hs_patch))
            .route("/crm/v3/properties/contacts/{name}", get(hs_get_property))
            .route("/crm/v3/properties/contacts", post(hs_create_property))
            .route("/services/oauth2/token", post(sf_token))
            .route("/services/data/v62.0/sobjects/Lead/{id}", patch(sf_patch))
            .route(
                "/services/data/v62.0/composite/sobjects",
                patch(sf_collection),
            )
            .with_state(mock.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        mock
    }

    pub fn writes(&self) -> Vec<Write> {
        self.inner.lock().unwrap().writes.clone()
    }

    pub fn calls(&self) -> usize {
        self.inner.lock().unwrap().calls
    }

    pub fn tokens_issued(&self) -> usize {
        self.inner.lock().unwrap().tokens_issued
    }

    /// Salesforce forgets every token it issued (a session timeout).
    pub fn expire_tokens(&self) {
        self.inner.lock().unwrap().valid_token = None;
    }

    pub fn script(&self, s: Scripted) {
        self.inner.lock().unwrap().script.push_back(s);
    }

    /// Every API call waits this long before answering (so concurrent writers overlap).
    pub fn set_delay(&self, d: Duration) {
        self.inner.lock().unwrap().delay = d;
    }

    pub fn created_properties(&self) -> Vec<Value> {
        self.inner.lock().unwrap().properties.clone()
    }

    /// The settings that point both CRMs' write-back at this mock.
    pub fn configure(&self, s: &mut Settings) {
        s.crm.hubspot_access_token = Some(HUBSPOT_TOKEN.into());
        s.crm.hubspot_api_url = self.url.clone();
        s.crm.salesforce_client = Some(SalesforceSettings {
            login_url: self.url.clone(),
            client_id: SF_CLIENT_ID.into(),
            client_secret: SF_CLIENT_SECRET.into(),
            api_version: "62.0".into(),
        });
        s.hubspot_client_secret = Some(HUBSPOT_SECRET.into());
        s.salesforce_org_id = Some(ORG.into());
        s.salesforce_token = Some(SF_OUTBOUND_TOKEN.into());
    }

    /// A call's preamble: counts it, waits the delay, and answers a scripted 429 if one is
    /// queued.
    async fn enter(&self) -> Option<Response> {
        let (delay, scripted) = {
            let mut i = self.inner.lock().unwrap();
            i.calls += 1;
            (i.delay, i.script.pop_front())
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        scripted.map(|Scripted::RateLimited { retry_after }| {
            let body = json!({"status": "error", "message": "You have reached your secondly limit.",
                              "errorType": "RATE_LIMIT", "category": "RATE_LIMITS"});
            let retry_after = [("retry-after", retry_after.to_string())];
            (StatusCode::TOO_MANY_REQUESTS, retry_after, Json(body)).into_response()
        })
    }

    fn record(&self, w: Write) {
        self.inner.lock().unwrap().writes.push(w);
    }

    fn sf_authorized(&self, headers: &HeaderMap) -> bool {
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let i = self.inner.lock().unwrap();
        i.valid_token.is_some() && given == i.valid_token.as_deref()
    }
}

fn hs_authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {HUBSPOT_TOKEN}"))
}

/// HubSpot's answer to a bad property value (as its validation errors read).
fn hs_invalid(value: &str) -> String {
    format!(
        "Property values were not valid: [{{\"isValid\":false,\"message\":\"{value} was not one of the allowed options\",\"error\":\"INVALID_OPTION\",\"name\":\"hs_lead_status\"}}]"
    )
}

fn hs_bad_status(props: &Value) -> Option<String> {
    let v = props["hs_lead_status"].as_str()?;
    (!HS_STATUSES.contains(&v)).then(|| hs_invalid(v))
}

async fn hs_patch(
    State(m): State<MockCrm>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = m.enter().await {
        return r;
    }
    if !hs_authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if let Some(msg) = hs_bad_status(&body["properties"]) {
        let err = json!({"status": "error", "message": msg, "category": "VALIDATION_ERROR"});
        return (StatusCode::BAD_REQUEST, Json(err)).into_response();
    }
    m.record(Write {
        crm: "hubspot",
        record: id.clone(),
        properties: body["properties"].clone(),
        call: "patch",
    });
    Json(json!({"id": id, "properties": body["properties"], "archived": false})).into_response()
}

async fn hs_batch(
    State(m): State<MockCrm>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = m.enter().await {
        return r;
    }
    if !hs_authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let inputs = body["inputs"].as_array().cloned().unwrap_or_default();
    // One invalid value fails the whole batch, as HubSpot does.
    if let Some(msg) = inputs.iter().find_map(|i| hs_bad_status(&i["properties"])) {
        let err = json!({"status": "error", "message": msg, "category": "VALIDATION_ERROR"});
        return (StatusCode::BAD_REQUEST, Json(err)).into_response();
    }
    // Ids that are not numbers are contacts that do not exist: a 207 naming them.
    let (missing, found): (Vec<&Value>, Vec<&Value>) = inputs
        .iter()
        .partition(|i| i["id"].as_str().is_none_or(|id| id.parse::<u64>().is_err()));
    let mut results = Vec::new();
    for i in found {
        m.record(Write {
            crm: "hubspot",
            record: i["id"].as_str().unwrap_or_default().to_string(),
            properties: i["properties"].clone(),
            call: "batch",
        });
        results.push(json!({"id": i["id"], "properties": i["properties"], "archived": false}));
    }
    let now = "2026-12-01T10:00:00.000Z";
    if missing.is_empty() {
        return Json(
            json!({"status": "COMPLETE", "results": results, "startedAt": now,
                           "completedAt": now}),
        )
        .into_response();
    }
    let ids: Vec<&Value> = missing.iter().map(|i| &i["id"]).collect();
    let body = json!({"status": "COMPLETE", "results": results, "numErrors": 1,
        "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                    "context": {"ids": ids}}],
        "startedAt": now, "completedAt": now});
    (StatusCode::MULTI_STATUS, Json(body)).into_response()
}

async fn hs_get_property(State(m): State<MockCrm>, Path(name): Path<String>) -> Response {
    let found = m
        .inner
        .lock()
        .unwrap()
        .properties
        .iter()
        .find(|p| p["name"] == name.as_str())
        .cloned();
    match found {
        Some(p) => Json(p).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"status": "error", "message": format!("Unable to find property {name}"),
                        "category": "OBJECT_NOT_FOUND"}),
            ),
        )
            .into_response(),
    }
}

async fn hs_create_property(State(m): State<MockCrm>, Json(body): Json<Value>) -> Response {
    m.inner.lock().unwrap().properties.push(body.clone());
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn sf_token(State(m): State<MockCrm>, body: String) -> Response {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("grant_type") != Some("client_credentials")
        || get("client_id") != Some(SF_CLIENT_ID)
        || get("client_secret") != Some(SF_CLIENT_SECRET)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_client", "error_description": "invalid client credentials"})),
        )
            .into_response();
    }
    let token = {
        let mut i = m.inner.lock().unwrap();
        i.tokens_issued += 1;
        let t = format!("00D5g!token-{}", i.tokens_issued);
        i.valid_token = Some(t.clone());
        t
    };
    Json(
        json!({"access_token": token, "instance_url": m.url, "token_type": "Bearer",
                "issued_at": "1764583200000", "scope": "api",
                "id": format!("{}/id/{ORG}/005000000000001AAA", m.url),
                "signature": "c2lnbmF0dXJl"}),
    )
    .into_response()
}

/// Salesforce's error for a session that expired.
fn sf_unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])),
    )
        .into_response()
}

/// A field error of one Lead, if its Status is not in the picklist.
fn sf_field_error(record: &Value) -> Option<Value> {
    let status = record.get("Status")?.as_str()?;
    (!SF_STATUSES.contains(&status)).then(|| {
        json!({"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
               "message": format!("Status: bad value for restricted picklist field: {status}"),
               "fields": ["Status"]})
    })
}

async fn sf_patch(
    State(m): State<MockCrm>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = m.enter().await {
        return r;
    }
    if !m.sf_authorized(&headers) {
        return sf_unauthorized();
    }
    if let Some(e) = sf_field_error(&body) {
        let one =
            json!([{"message": e["message"], "errorCode": e["statusCode"], "fields": e["fields"]}]);
        return (StatusCode::BAD_REQUEST, Json(one)).into_response();
    }
    m.record(Write {
        crm: "salesforce",
        record: id,
        properties: body,
        call: "patch",
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn sf_collection(
    State(m): State<MockCrm>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = m.enter().await {
        return r;
    }
    if !m.sf_authorized(&headers) {
        return sf_unauthorized();
    }
    let records = body["records"].as_array().cloned().unwrap_or_default();
    let results: Vec<Value> = records
        .iter()
        .map(|r| match sf_field_error(r) {
            Some(e) => json!({"success": false, "errors": [e]}),
            None => {
                let mut props = r.clone();
                let obj = props.as_object_mut().unwrap();
                obj.remove("attributes");
                let id = obj.remove("id").unwrap_or(Value::Null);
                m.record(Write {
                    crm: "salesforce",
                    record: id.as_str().unwrap_or_default().to_string(),
                    properties: props,
                    call: "collection",
                });
                json!({"id": id, "success": true, "errors": []})
            }
        })
        .collect();
    Json(Value::Array(results)).into_response()
}

/// An app whose write-back and inbound adapters point at `mock`.
pub async fn crm_app(mock: &MockCrm) -> TestApp {
    let m = mock.clone();
    spawn_app_with(move |s| m.configure(s)).await
}

/// A writer for `app` (each test steps it with `run_once`), as start-up builds it.
pub fn writer(app: &TestApp, mock: &MockCrm) -> CrmWriter {
    let mut s = Settings::load().unwrap();
    s.webhook_allow_private_networks = true;
    mock.configure(&mut s);
    let targets = s
        .crm
        .targets(Policy {
            allow_private: true,
        })
        .unwrap();
    CrmWriter::new(app.pool.clone(), Arc::new(app.clock.clone()), targets)
}

/// Steps `w` until a step sends nothing; the number of steps that did something.
pub async fn drain(w: &CrmWriter) -> usize {
    let mut n = 0;
    while w.run_once().await.unwrap().calls > 0 {
        n += 1;
        assert!(n < 100, "the writer never ran dry");
    }
    n
}

/// A lead from `source` (`hubspot`: numeric contact ids; `salesforce`: Lead Ids).
pub fn crm_lead(source: &str, external_id: &str, owner: Option<&str>) -> Value {
    let mut l = json!({"source": source, "external_id": external_id, "lead_type": "demo_request",
                       "email": format!("{external_id}@example.com")});
    if let Some(o) = owner {
        l["owner"] = json!(o);
    }
    l
}

/// The writes to `record`, in the order they arrived.
pub fn writes_to(mock: &MockCrm, record: &str) -> Vec<Value> {
    mock.writes()
        .into_iter()
        .filter(|w| w.record == record)
        .map(|w| w.properties)
        .collect()
}

/// `PUT /v1/reps/{id}` as admin; the rep as answered.
pub async fn put_rep(app: &TestApp, id: &str, body: Value) -> Value {
    let res = app
        .request(
            reqwest::Method::PUT,
            &format!("/v1/reps/{id}"),
            &app.admin,
            Some(&body),
        )
        .await;
    assert!(res.status().is_success(), "PUT rep: {}", res.status());
    res.json().await.unwrap()
}
