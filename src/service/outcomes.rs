//! Downstream outcomes (docs/api.md "Outcomes"): one use case stores an outcome for a lead's
//! current cycle, once, with its history entry; the API and the CRM adapters both call it.
//! The adapters' mapping of CRM states to outcome kinds is here too, so it is one rule.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{retry_on_race, Caller, Error, Result, Service};
use crate::{
    db::{
        leads,
        outcomes::{self, Outcome, OutcomeWrite, Stored},
    },
    domain::{
        outcome::{NewOutcome, OutcomeKind},
        Actor, Role,
    },
};

/// What storing an outcome did.
#[derive(Debug)]
pub enum Recorded {
    /// Stored now (201).
    Created(Outcome),
    /// The same outcome was stored before: that one, unchanged (200).
    Existing(Outcome),
}

impl Recorded {
    pub fn outcome(&self) -> &Outcome {
        match self {
            Recorded::Created(o) | Recorded::Existing(o) => o,
        }
    }
}

impl Service {
    /// Stores `outcome` for lead `id`'s current cycle. `at` may not be before that cycle was
    /// routed (an outcome belongs to the cycle it follows). Idempotent on (lead, kind,
    /// external id); without an external id, on (lead, cycle, kind).
    pub async fn record_outcome(
        &self,
        caller: &Caller,
        id: Uuid,
        outcome: &NewOutcome,
    ) -> Result<Recorded> {
        let now = self.clock.now();
        let who = caller.who();
        let who = &who;
        retry_on_race("the outcome was being stored", || async move {
            let lead = leads::get(&self.db, id)
                .await?
                .ok_or(Error::NotFound("no lead with this id"))?;
            if outcome.at < lead.routed_at {
                return Err(Error::field(
                    "at",
                    "is before the lead's current cycle was routed",
                ));
            }
            let write = OutcomeWrite {
                lead_id: lead.id,
                cycle: lead.cycle,
                rep: lead.owner.as_deref(),
                who: *who,
                now,
            };
            Ok(match outcomes::insert(&self.db, &write, outcome).await? {
                Stored::Created(o) => Some(Recorded::Created(o)),
                Stored::Existing(o) => Some(Recorded::Existing(o)),
                Stored::Moved => None,
            })
        })
        .await
    }

    /// An outcome a CRM adapter saw (`provider`'s lead `external_id` reached `kind`, at `at`
    /// when the CRM said): stored as the caller `integration:<provider>`, once per cycle and
    /// kind however often the CRM repeats it. `at` is kept inside what the use case accepts
    /// (not before the cycle was routed, not after now), since a CRM's clock is not a
    /// request to refuse. `None` when salgate has no such lead.
    pub async fn record_crm_outcome(
        &self,
        provider: &str,
        external_id: &str,
        kind: OutcomeKind,
        at: Option<DateTime<Utc>>,
    ) -> Result<Option<Recorded>> {
        let Some(lead) = leads::get_by_external(&self.db, provider, external_id).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let at = at
            .unwrap_or(now)
            .clamp(lead.routed_at, now.max(lead.routed_at));
        let outcome = NewOutcome {
            kind,
            at,
            amount: None,
            external_id: Some(format!("{provider}:cycle-{}", lead.cycle)),
        };
        let caller = Caller {
            actor: Actor {
                role: Role::Ingest,
                rep: None,
            },
            label: format!("integration:{provider}"),
        };
        self.record_outcome(&caller, lead.id, &outcome)
            .await
            .map(Some)
    }
}

/// The outcome a HubSpot webhook event reports: a `contact.propertyChange` of
/// `lifecyclestage` to `salesqualifiedlead` (sql), `opportunity` or `customer` (won), as the
/// contact's id (`objectId`), the kind and when it happened (`occurredAt`, ms).
pub fn hubspot_outcome(event: &Value) -> Option<(String, OutcomeKind, Option<DateTime<Utc>>)> {
    let kind = event["subscriptionType"]
        .as_str()
        .or(event["eventType"].as_str())?;
    if kind != "contact.propertyChange" || event["propertyName"] != "lifecyclestage" {
        return None;
    }
    let outcome = match event["propertyValue"].as_str()? {
        "salesqualifiedlead" => OutcomeKind::Sql,
        "opportunity" => OutcomeKind::Opportunity,
        "customer" => OutcomeKind::Won,
        _ => return None,
    };
    let object = match &event["objectId"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return None,
    };
    let at = event["occurredAt"]
        .as_i64()
        .and_then(DateTime::from_timestamp_millis);
    Some((object, outcome, at))
}

/// The outcome a Salesforce Lead's `Status` (or `IsConverted`) reports: a converted lead
/// (`IsConverted` true, or a status `Closed - Converted`, `Converted` or `Qualified`) is an
/// SQL; `Meeting Booked` or `Meeting Scheduled` a booked meeting. Compared without case.
/// Other statuses report no outcome.
pub fn salesforce_outcome(status: Option<&str>, is_converted: Option<&str>) -> Option<OutcomeKind> {
    if is_converted.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Some(OutcomeKind::Sql);
    }
    match status?.trim().to_ascii_lowercase().as_str() {
        "closed - converted" | "converted" | "qualified" => Some(OutcomeKind::Sql),
        "meeting booked" | "meeting scheduled" => Some(OutcomeKind::MeetingBooked),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hubspot_lifecycle_stages_after_mql_are_outcomes() {
        let ev = |v: &str| {
            json!({"subscriptionType": "contact.propertyChange", "propertyName": "lifecyclestage",
                   "propertyValue": v, "objectId": 42, "occurredAt": 1_780_000_000_000_i64})
        };
        let (object, kind, at) = hubspot_outcome(&ev("salesqualifiedlead")).unwrap();
        assert_eq!((object.as_str(), kind), ("42", OutcomeKind::Sql));
        assert_eq!(at.unwrap().timestamp_millis(), 1_780_000_000_000);
        assert_eq!(
            hubspot_outcome(&ev("opportunity")).unwrap().1,
            OutcomeKind::Opportunity
        );
        assert_eq!(
            hubspot_outcome(&ev("customer")).unwrap().1,
            OutcomeKind::Won
        );
        assert!(hubspot_outcome(&ev("marketingqualifiedlead")).is_none());
        assert!(hubspot_outcome(&json!({"subscriptionType": "contact.creation"})).is_none());
    }

    #[test]
    fn salesforce_conversions_and_meetings_are_outcomes() {
        assert_eq!(
            salesforce_outcome(Some("Closed - Converted"), None),
            Some(OutcomeKind::Sql)
        );
        assert_eq!(
            salesforce_outcome(Some("Open"), Some("true")),
            Some(OutcomeKind::Sql)
        );
        assert_eq!(
            salesforce_outcome(Some("meeting booked"), Some("false")),
            Some(OutcomeKind::MeetingBooked)
        );
        assert_eq!(salesforce_outcome(Some("Working - Contacted"), None), None);
        assert_eq!(salesforce_outcome(None, None), None);
    }
}
