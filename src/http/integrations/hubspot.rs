//! HubSpot webhooks: v3 signatures, MQL lifecycle changes become leads, redeliveries are
//! deduplicated.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, Uri},
    Json,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use utoipa::ToSchema;

use super::super::error::Problem;
use crate::{
    domain::{lead_input::NewLead, validation::FieldError},
    http::{error::ApiError, error::ApiResult, AppState},
    service::{Ingested, Received},
};

/// Requests older than this are refused (HubSpot's documented tolerance).
const TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// The v3 signature: base64 HMAC-SHA256 with the app secret over method + URI + body +
/// timestamp.
pub fn signature_v3(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// What a delivery did.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct HubspotResult {
    /// MQL events that routed a lead (new lead or new cycle).
    pub routed: usize,
    /// MQL events for a lead already open or accepted.
    pub unchanged: usize,
    /// Events seen before (same portal, subscription, event and object).
    pub duplicates: usize,
    /// Other events, acknowledged and ignored.
    pub ignored: usize,
    /// Lead status changes made in HubSpot that became a decision (docs/crm.md).
    #[serde(skip_serializing_if = "is_zero")]
    pub decided: usize,
    /// Status changes that were salgate's own write-back coming back.
    #[serde(skip_serializing_if = "is_zero")]
    pub echoes: usize,
    /// Rejections made in HubSpot without a valid code: recorded, the lead stays routed.
    #[serde(skip_serializing_if = "is_zero")]
    pub rejected_without_code: usize,
    /// Lifecycle changes past MQL stored as outcomes (`service::outcomes::hubspot_outcome`);
    /// those of contacts salgate does not know count as ignored.
    #[serde(skip_serializing_if = "is_zero")]
    pub outcomes: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Receive a HubSpot webhook batch (no API key: the v3 signature authenticates it).
///
/// `contact.propertyChange` of `lifecyclestage` to `marketingqualifiedlead` routes a lead
/// (`source` `hubspot`, `external_id` = `objectId`); every other event is acknowledged and
/// ignored. The signed URI is `SALGATE_PUBLIC_URL` + path + query when that is set, else
/// `https://` (or `X-Forwarded-Proto`) + `Host` + path + query.
#[utoipa::path(post, path = "/v1/integrations/hubspot", tag = "integrations",
    request_body(content = Vec<Object>, description = "HubSpot webhook events"),
    responses(
        (status = 200, body = HubspotResult),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "an MQL event makes no valid lead; nothing stored"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not enabled"),
    ))]
pub async fn receive_hubspot_events(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<HubspotResult>> {
    let Some(secret) = state.integrations.hubspot_client_secret.as_deref() else {
        // Not an outage: the endpoint does not exist until the operator enables it.
        return Err(ApiError::NotFound(
            "the HubSpot integration is not enabled (SALGATE_HUBSPOT_CLIENT_SECRET)",
        ));
    };
    let now = state.clock.now();
    let signed = Signed {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
    };
    verify(&state, secret, &signed, now)?;
    let events: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::MalformedJson(format!("expected an array of events: {e}")))?;
    let mut result = HubspotResult::default();
    // Every MQL event is checked before anything is stored: a bad one refuses the delivery
    // (HubSpot retries it) and stores nothing.
    let mut mqls = Vec::new();
    let mut outcomes = Vec::new();
    for (i, event) in events.iter().enumerate() {
        match mql_lead(&state, i, event, now)? {
            Some(mql) => mqls.push(mql),
            None if super::crm_decisions::is_hubspot_decision(&state, event) => {}
            None => match crate::service::outcomes::hubspot_outcome(event) {
                Some(outcome) => outcomes.push(outcome),
                None => result.ignored += 1,
            },
        }
    }
    for (key, lead) in mqls {
        match state
            .service
            .ingest_delivery("hubspot", &key, lead, now)
            .await?
        {
            Received::Duplicate => result.duplicates += 1,
            Received::Ingested(Ingested::Created(_)) => result.routed += 1,
            Received::Ingested(Ingested::Unchanged(_)) => result.unchanged += 1,
        }
    }
    let decisions = super::crm_decisions::hubspot(&state, &events).await?;
    result.decided += decisions.decided;
    result.echoes += decisions.echoes;
    result.rejected_without_code += decisions.rejected_without_code;
    result.duplicates += decisions.duplicates;
    result.unchanged += decisions.unchanged;
    for (contact, kind, at) in outcomes {
        match state
            .service
            .record_crm_outcome("hubspot", &contact, kind, at)
            .await?
        {
            Some(_) => result.outcomes += 1,
            None => result.ignored += 1,
        }
    }
    Ok(Json(result))
}

/// The parts of a request that its v3 signature covers.
struct Signed<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

impl Signed<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URI HubSpot signed: the public URL when configured, else what the request says.
    fn full_uri(&self, public_url: Option<&str>) -> String {
        let path_and_query = self.uri.path_and_query().map_or("/", |p| p.as_str());
        match public_url {
            Some(base) => format!("{base}{path_and_query}"),
            None => {
                let scheme = self.header("x-forwarded-proto").unwrap_or("https");
                let host = self.header("host").unwrap_or("");
                format!("{scheme}://{host}{path_and_query}")
            }
        }
    }
}

/// Refuses a request without a fresh timestamp and a matching v3 signature.
fn verify(state: &AppState, secret: &str, req: &Signed, now: DateTime<Utc>) -> ApiResult<()> {
    let (Some(given), Some(timestamp)) = (
        req.header("x-hubspot-signature-v3"),
        req.header("x-hubspot-request-timestamp"),
    ) else {
        return Err(ApiError::Unauthorized(
            "missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp",
        ));
    };
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|ms| (now.timestamp_millis() - ms).abs() <= TOLERANCE_MS);
    if !fresh {
        return Err(ApiError::Unauthorized(
            "X-HubSpot-Request-Timestamp is more than 5 minutes away",
        ));
    }
    let full_uri = req.full_uri(state.integrations.public_url.as_deref());
    let expected = signature_v3(secret, req.method.as_str(), &full_uri, req.body, timestamp);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) {
        return Err(ApiError::Unauthorized(
            "the HubSpot signature does not match",
        ));
    }
    Ok(())
}

/// Event `i` as a dedup key and a lead when it is an MQL change; `None` for other events.
fn mql_lead(
    state: &AppState,
    i: usize,
    event: &Value,
    now: DateTime<Utc>,
) -> ApiResult<Option<(String, NewLead)>> {
    let kind = event["subscriptionType"]
        .as_str()
        .or(event["eventType"].as_str())
        .unwrap_or("");
    let is_mql = kind == "contact.propertyChange"
        && event["propertyName"] == "lifecyclestage"
        && event["propertyValue"] == "marketingqualifiedlead";
    let object_id = id_text(&event["objectId"]);
    let (true, Some(object_id)) = (is_mql, object_id) else {
        return Ok(None);
    };
    let key = ["portalId", "subscriptionId", "eventId"]
        .iter()
        .map(|k| id_text(&event[*k]).unwrap_or_default())
        .chain([object_id.clone()])
        .collect::<Vec<_>>()
        .join(":");
    let routed_at = event["occurredAt"]
        .as_i64()
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .filter(|t| *t <= now)
        .unwrap_or(now);
    let input = json!({
        "source": "hubspot", "external_id": object_id, "lead_type": "mql",
        "routed_at": routed_at.to_rfc3339(),
        "attributes": {"hubspot": {"portal_id": event["portalId"], "event_id": event["eventId"]}},
    });
    let lead = NewLead::parse(&input, state.routed_at_window(now)).map_err(|errors| {
        ApiError::Validation(
            errors
                .into_iter()
                .map(|e| FieldError {
                    // Named as HubSpot sent it.
                    field: match e.field.as_str() {
                        "routed_at" => format!("[{i}].occurredAt"),
                        f => format!("[{i}].{f}"),
                    },
                    message: e.message,
                })
                .collect(),
        )
    })?;
    Ok(Some((key, lead)))
}

/// HubSpot sends ids as numbers; keys and external ids are their decimal text.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}
