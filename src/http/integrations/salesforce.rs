//! Salesforce Outbound Messages: a SOAP envelope of up to 100 `Lead` notifications. The URL's
//! token and the sender's network are checked first ([`super::salesforce_gate`]); the
//! organization must be the configured one (18-character ids, compared exactly); every notification is validated before anything
//! is stored; each is deduplicated on its notification `Id`; `Ack` true only after all are
//! stored (a SOAP fault otherwise, and Salesforce sends the message again).

use std::collections::{BTreeMap, HashMap};

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{header, Extensions, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use quick_xml::{events::Event, Reader};
use serde_json::{json, Map, Value};

use crate::{domain::lead_input::NewLead, http::AppState, service};

/// Most notifications in one message (Salesforce's limit).
pub const MAX_NOTIFICATIONS: usize = 100;

/// One notification: its id and the sObject's fields (local element names → text).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    pub object_type: String,
    pub fields: BTreeMap<String, String>,
}

/// A parsed outbound message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OutboundMessage {
    pub organization_id: String,
    pub notifications: Vec<Notification>,
}

/// Parses the SOAP envelope; namespaces are matched by local name.
pub fn parse(xml: &[u8]) -> Result<OutboundMessage, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut msg = OutboundMessage::default();
    let mut path: Vec<String> = Vec::new();
    let mut current: Option<Notification> = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Err(e) => return Err(format!("not well-formed XML: {e}")),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "Notification" {
                    current = Some(Notification::default());
                }
                if name == "sObject" {
                    if let Some(n) = current.as_mut() {
                        for a in e.attributes().flatten() {
                            if a.key.local_name().as_ref() == b"type" {
                                let v = String::from_utf8_lossy(&a.value).into_owned();
                                n.object_type =
                                    v.rsplit(':').next().unwrap_or_default().to_string();
                            }
                        }
                    }
                }
                path.push(name);
            }
            Ok(Event::End(_)) => {
                if path.pop().as_deref() == Some("Notification") {
                    msg.notifications.extend(current.take());
                }
            }
            Ok(Event::Text(t)) => {
                let text = t
                    .unescape()
                    .map_err(|e| format!("bad XML text: {e}"))?
                    .into_owned();
                let depth = path.len();
                let (Some(leaf), parent) = (path.last(), path.get(depth.wrapping_sub(2))) else {
                    continue;
                };
                match (parent.map(String::as_str), leaf.as_str(), current.as_mut()) {
                    (Some("notifications"), "OrganizationId", _) => msg.organization_id = text,
                    (Some("Notification"), "Id", Some(n)) => n.id = text,
                    (Some("sObject"), field, Some(n)) => {
                        n.fields.insert(field.to_string(), text);
                    }
                    _ => {}
                }
            }
            Ok(_) => {}
        }
        buf.clear();
    }
    Ok(msg)
}

/// The lead input of a Lead sObject (as `POST /v1/leads` would take it).
fn lead_input(n: &Notification) -> Value {
    let f = |k: &str| n.fields.get(k).cloned();
    let known = [
        "Id",
        "Email",
        "FirstName",
        "LastName",
        "Title",
        "Phone",
        "Company",
        "LeadSource",
        "Industry",
        "Country",
    ];
    let others: Map<String, Value> = n
        .fields
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let company = f("Company")
        .map(|name| json!({"name": name, "industry": f("Industry"), "country": f("Country")}));
    json!({
        "source": "salesforce", "external_id": f("Id"), "lead_type": "mql",
        "email": f("Email"), "first_name": f("FirstName"), "last_name": f("LastName"),
        "title": f("Title"), "phone": f("Phone"), "company": company, "channel": f("LeadSource")
            .map(|s| s.to_lowercase().replace(' ', "_")),
        "attributes": {"salesforce": others},
    })
}

const ACK: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
    r#"<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">"#,
    r#"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
);

fn xml(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    res
}

fn escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// A SOAP fault; Salesforce keeps the message and retries it.
fn fault(status: StatusCode, code: &str, message: &str) -> Response {
    xml(
        status,
        format!(
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
                r#"<soapenv:Body><soapenv:Fault><faultcode>soapenv:{}</faultcode>"#,
                r#"<faultstring>{}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>"#
            ),
            escape(code),
            escape(message)
        ),
    )
}

/// Receive a Salesforce Outbound Message of `Lead` notifications (no API key: the URL carries
/// `?token=<SALGATE_SALESFORCE_TOKEN>`, and the organization id is checked). Answers the SOAP
/// `Ack` once every lead is stored.
#[utoipa::path(post, path = "/v1/integrations/salesforce", tag = "integrations",
    params(("token" = String, Query, description = "SALGATE_SALESFORCE_TOKEN, set in the Outbound Message's endpoint URL")),
    request_body(content = String, content_type = "text/xml", description = "SOAP Outbound Message"),
    responses(
        (status = 200, content_type = "text/xml", body = String, description = "SOAP Ack true"),
        (status = 400, content_type = "text/xml", body = String, description = "SOAP fault: malformed or invalid message, nothing stored"),
        (status = 401, content_type = "text/xml", body = String, description = "SOAP fault: missing or wrong token, nothing read"),
        (status = 403, content_type = "text/xml", body = String, description = "SOAP fault: another organization, or a sender outside SALGATE_SALESFORCE_ALLOWED_NETWORKS"),
        (status = 429, content_type = "application/problem+json", body = crate::http::error::Problem, description = "too many requests from this address"),
        (status = 404, content_type = "text/xml", body = String, description = "SOAP fault: not enabled"),
        (status = 500, content_type = "text/xml", body = String, description = "SOAP fault: could not store, send again"),
    ))]
pub async fn receive_salesforce_message(
    State(state): State<AppState>,
    extensions: Extensions,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let query = query.map(|q| q.0).unwrap_or_default();
    let accepted = async {
        let msg = admitted_message(&state, &extensions, &query, &body)?;
        let now = state.clock.now();
        let leads = checked_leads(&state, &msg, now)?;
        let leads = super::salesforce_outcomes::split(&state, &msg, leads)
            .await
            .map_err(|e| stored_fault(&e))?;
        store(&state, leads, now).await?;
        decide(&state, &msg).await
    };
    match accepted.await {
        Ok(()) => xml(StatusCode::OK, ACK.to_string()),
        Err(f) => fault(f.status, f.code, &f.message),
    }
}

/// Why a message is refused, before it becomes a SOAP [`fault`].
struct Fault {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Fault {
    fn client(status: StatusCode, message: impl Into<String>) -> Self {
        Fault {
            status,
            code: "Client",
            message: message.into(),
        }
    }
}

/// The message, once the integration is on, the sender admitted, the envelope parsed, the
/// organization the configured one and the notification count within bounds.
fn admitted_message(
    state: &AppState,
    extensions: &Extensions,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<OutboundMessage, Fault> {
    let Some(org) = state.integrations.salesforce_org_id.as_deref() else {
        return Err(Fault::client(
            StatusCode::NOT_FOUND,
            "the Salesforce integration is not enabled (SALGATE_SALESFORCE_ORG_ID)",
        ));
    };
    let peer = crate::http::client::ip(extensions);
    super::salesforce_gate::admit(&state.integrations, peer, query)
        .map_err(|(status, why)| Fault::client(status, why))?;
    let msg = parse(body).map_err(|e| Fault::client(StatusCode::BAD_REQUEST, e))?;
    // Compared exactly in the 18-character form (start-up converted the setting to it); a
    // 15-character id in the message stands for its 18-character form.
    if crate::domain::salesforce_id::to_18(&msg.organization_id).as_deref() != Some(org) {
        return Err(Fault::client(
            StatusCode::FORBIDDEN,
            "messages are accepted only from the configured organization",
        ));
    }
    if msg.notifications.is_empty() || msg.notifications.len() > MAX_NOTIFICATIONS {
        return Err(Fault::client(
            StatusCode::BAD_REQUEST,
            format!("a message holds 1 to {MAX_NOTIFICATIONS} notifications"),
        ));
    }
    Ok(msg)
}

/// Every notification as (notification id, lead); the first invalid one refuses them all.
fn checked_leads(
    state: &AppState,
    msg: &OutboundMessage,
    now: DateTime<Utc>,
) -> Result<Vec<(String, NewLead)>, Fault> {
    let mut leads = Vec::with_capacity(msg.notifications.len());
    for (i, n) in msg.notifications.iter().enumerate() {
        if super::crm_decisions::is_salesforce_decision(state, n) {
            // A Lead whose Status says a decision: applied by `decide`, not routed.
            continue;
        }
        if n.id.is_empty() || n.object_type != "Lead" {
            return Err(Fault::client(
                StatusCode::BAD_REQUEST,
                format!("notification {i}: needs an Id and a Lead sObject"),
            ));
        }
        let input = lead_input(n);
        let lead = NewLead::parse(&input, state.routed_at_window(now)).map_err(|errors| {
            let fields: Vec<String> = errors
                .iter()
                .map(|e| format!("{} {}", e.field, e.message))
                .collect();
            Fault::client(
                StatusCode::BAD_REQUEST,
                format!("notification {} ({}): {}", i, n.id, fields.join("; ")),
            )
        })?;
        leads.push((n.id.clone(), lead));
    }
    Ok(leads)
}

/// Stores each lead, deduplicated on its notification id; stops at the first failure.
async fn store(
    state: &AppState,
    leads: Vec<(String, NewLead)>,
    now: DateTime<Utc>,
) -> Result<(), Fault> {
    for (id, lead) in leads {
        let stored = state
            .service
            .ingest_delivery("salesforce", &id, lead, now)
            .await;
        if let Err(e) = stored {
            return Err(stored_fault(&e));
        }
    }
    Ok(())
}

/// Applies the notifications whose Lead Status maps to a decision (docs/crm.md), after the
/// leads are stored.
async fn decide(state: &AppState, msg: &OutboundMessage) -> Result<(), Fault> {
    let decisions: Vec<&Notification> = msg
        .notifications
        .iter()
        .filter(|n| n.object_type == "Lead" && !n.id.is_empty())
        .filter(|n| super::crm_decisions::is_salesforce_decision(state, n))
        .collect();
    if decisions.is_empty() {
        return Ok(());
    }
    super::crm_decisions::salesforce(state, &decisions)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::error!(error = ?e, "salesforce decisions could not be applied");
            Fault {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "Server",
                message: "the message could not be stored; send it again".into(),
            }
        })
}

/// A notification that could not be stored: Salesforce sends the message again.
fn stored_fault(e: &service::Error) -> Fault {
    if let service::Error::Internal(err) = e {
        tracing::error!(error = ?err, "salesforce notification could not be stored");
    }
    Fault {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "Server",
        message: "the message could not be stored; send it again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_notifications_by_local_name() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5g000004ABCDEAA</OrganizationId>
   <Notification>
    <Id>04l5g000001AAAAAA1</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q5g000001XYZAAA1</sf:Id>
     <sf:Email>ada@example.com</sf:Email>
     <sf:Company>Analytical &amp; Engines</sf:Company>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;
        let m = parse(xml).unwrap();
        assert_eq!(m.organization_id, "00D5g000004ABCDEAA");
        assert_eq!(m.notifications.len(), 1);
        let n = &m.notifications[0];
        assert_eq!(n.id, "04l5g000001AAAAAA1");
        assert_eq!(n.object_type, "Lead");
        assert_eq!(n.fields["Id"], "00Q5g000001XYZAAA1");
        assert_eq!(n.fields["Company"], "Analytical & Engines");
        assert!(parse(b"<notifications><Notification>").is_ok());
        assert!(parse(b"<a></b>").is_err());
    }
}
