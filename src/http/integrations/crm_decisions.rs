//! Decisions made in the CRM, as the adapters read them (docs/crm.md): HubSpot
//! `contact.propertyChange` events of the mapped status and rejection-code properties, and
//! Salesforce Outbound Message notifications whose Lead `Status` maps to a decision. Both
//! go to [`crate::service::crm`]; each event or notification is handled once (redeliveries
//! are recognised by the same receipts as leads).

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::salesforce::Notification;
use crate::{
    crm::CrmKind,
    domain::LeadState,
    http::{error::ApiResult, AppState},
    service::crm::{CrmChange, FromCrm},
};

/// What the decision events of one delivery came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub decided: usize,
    pub echoes: usize,
    pub rejected_without_code: usize,
    /// Seen before (HubSpot redelivered them).
    pub duplicates: usize,
    /// Concerned a decision but changed nothing (unknown lead, already in that state,
    /// refused by the rules).
    pub unchanged: usize,
}

impl Counts {
    fn add(&mut self, o: &FromCrm) {
        match o {
            FromCrm::Decided(_) => self.decided += 1,
            FromCrm::Echo => self.echoes += 1,
            FromCrm::RejectedWithoutCode(_) => self.rejected_without_code += 1,
            _ => self.unchanged += 1,
        }
    }
}

/// Whether a HubSpot event is a change of the mapped status or rejection-code property.
pub fn is_hubspot_decision(state: &AppState, event: &Value) -> bool {
    hubspot_property(state, event).is_some()
}

/// `Some(true)` for a status change, `Some(false)` for a code change.
fn hubspot_property(state: &AppState, event: &Value) -> Option<bool> {
    let kind = event["subscriptionType"]
        .as_str()
        .or(event["eventType"].as_str())?;
    if kind != "contact.propertyChange" {
        return None;
    }
    let m = &state.crm.hubspot;
    let name = event["propertyName"].as_str()?;
    if Some(name) == m.field("status") {
        Some(true)
    } else if Some(name) == m.field("rejection_code") {
        Some(false)
    } else {
        None
    }
}

/// Applies the decision events of a HubSpot delivery, in order; a status change takes the
/// code from a change of the code property of the same contact in the same delivery.
pub async fn hubspot(state: &AppState, events: &[Value]) -> ApiResult<Counts> {
    let mut counts = Counts::default();
    let id = |v: &Value| match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let code_of = |object: &str| {
        events.iter().rev().find_map(|e| {
            (hubspot_property(state, e) == Some(false)
                && id(&e["objectId"]).as_deref() == Some(object))
            .then(|| e["propertyValue"].as_str().map(str::to_string))
            .flatten()
        })
    };
    for event in events {
        let (Some(is_status), Some(object)) =
            (hubspot_property(state, event), id(&event["objectId"]))
        else {
            continue;
        };
        let key = ["portalId", "subscriptionId", "eventId"]
            .iter()
            .map(|k| id(&event[*k]).unwrap_or_default())
            .chain([object.clone()])
            .collect::<Vec<_>>()
            .join(":");
        if state.service.crm_event_seen("hubspot", &key).await? {
            counts.duplicates += 1;
            continue;
        }
        let value = event["propertyValue"].as_str().unwrap_or_default();
        let user = event["sourceId"]
            .as_str()
            .or(event["changeSource"].as_str())
            .unwrap_or("unknown");
        let code = if is_status {
            code_of(&object)
        } else {
            Some(value.to_string())
        };
        let change = CrmChange {
            crm: CrmKind::Hubspot,
            record_id: &object,
            user,
            user_owner_id: None,
            code: code.as_deref(),
            occurred_at: event["occurredAt"]
                .as_i64()
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
            written_state: None,
        };
        let outcome = if is_status {
            state
                .service
                .status_from_crm(&state.crm.hubspot, &change, value)
                .await?
        } else {
            state.service.code_from_crm(&change).await?
        };
        state.service.crm_event_done("hubspot", &key).await?;
        counts.add(&outcome);
    }
    Ok(counts)
}

/// Whether a Salesforce notification is a decision: its Lead's mapped status field holds the
/// value of accepted, rejected or recycled (a routed value, or none, is a lead to route).
pub fn is_salesforce_decision(state: &AppState, n: &Notification) -> bool {
    let m = &state.crm.salesforce;
    n.object_type == "Lead"
        && m.field("status")
            .and_then(|f| n.fields.get(f))
            .and_then(|v| m.state_of(v))
            .is_some_and(|s| s != LeadState::Routed)
}

/// Applies the decision notifications of an Outbound Message; the code comes from the mapped
/// rejection-code field of the same Lead, the actor from `LastModifiedById`.
pub async fn salesforce(state: &AppState, notifications: &[&Notification]) -> ApiResult<Counts> {
    let m = &state.crm.salesforce;
    let mut counts = Counts::default();
    for n in notifications {
        if state.service.crm_event_seen("salesforce", &n.id).await? {
            counts.duplicates += 1;
            continue;
        }
        let get = |key: &str| {
            m.field(key)
                .and_then(|f| n.fields.get(f))
                .map(String::as_str)
        };
        let status = get("status").unwrap_or_default();
        let user = n.fields.get("LastModifiedById").map(String::as_str);
        let record_id = n.fields.get("Id").map(String::as_str).unwrap_or_default();
        let change = CrmChange {
            crm: CrmKind::Salesforce,
            record_id,
            user: user.unwrap_or("unknown"),
            user_owner_id: user,
            code: get("rejection_code"),
            occurred_at: n
                .fields
                .get("LastModifiedDate")
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
            written_state: get("state"),
        };
        let outcome = state.service.status_from_crm(m, &change, status).await?;
        state.service.crm_event_done("salesforce", &n.id).await?;
        counts.add(&outcome);
    }
    Ok(counts)
}
