//! A lead as the API shows it (docs/api.md §5): its row plus the cycle's SLA as of a given time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    db::leads::LeadRow,
    domain::{
        model::Prediction,
        sla::{self, SlaFacts, SlaStatus},
        LeadState,
    },
};

/// A lead as returned by the API and sent in webhook events.
// The schema keeps the description it had when one type was row and view alike, so that the
// split leaves /openapi.json unchanged; rewording it is a change of the document of its own.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(
    description = "A lead as stored and as returned by the API (and as the outbox trigger snapshots it, read\nback with `Deserialize`)."
)]
pub struct Lead {
    pub id: Uuid,
    pub source: String,
    pub external_id: String,
    pub lead_type: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    #[schema(value_type = Option<crate::domain::lead_input::Company>)]
    pub company: Option<Value>,
    pub score: Option<f64>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Value,
    pub state: LeadState,
    /// 1 for the first routing; each re-routing of a rejected or recycled lead adds one.
    pub cycle: i32,
    pub routed_at: DateTime<Utc>,
    pub accepted_by: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Whether the accept came before the cycle's SLA due time (null until SLA policies apply).
    pub accepted_within_sla: Option<bool>,
    pub rejected_by: Option<String>,
    pub rejected_at: Option<DateTime<Utc>>,
    pub rejection_code: Option<String>,
    pub recycled_by: Option<String>,
    pub recycled_at: Option<DateTime<Utc>>,
    pub recycle_reason: Option<String>,
    /// The note of the latest decision.
    pub decision_note: Option<String>,
    pub next_action: Option<String>,
    /// Increases with every change; the ETag.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The account the lead was matched to (its company's or email's domain, else its
    /// company's name); null when it names neither.
    pub account_id: Option<Uuid>,
    /// Leads that may be the same person (same mailbox, phone, or name at the same account
    /// from another source), newest first, with their state and owner as they were when this
    /// cycle was routed.
    pub possible_duplicates: Vec<crate::db::judge::Duplicate>,
    /// The cycle's SLA, computed from the stored deadlines and the time of the view. Left out
    /// of the schema as it was before the row and the view were split (utoipa skipped it then);
    /// documenting it is a schema change of its own.
    #[schema(ignore)]
    pub sla: Option<SlaView>,
    /// The acceptance model's prediction for an open (`routed`) lead, computed when the lead is
    /// read; absent for a decided lead, while no model is ready, and in webhook events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prediction: Option<Prediction>,
}

/// The `sla` object of a lead.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SlaView {
    /// The policy that set the deadlines (a lead type or `default`).
    pub policy: String,
    pub due_at: DateTime<Utc>,
    pub at_risk_at: DateTime<Utc>,
    /// When the cycle's SLA was breached (flagged by the scanner).
    pub breached_at: Option<DateTime<Utc>>,
    pub status: SlaStatus,
    pub first_touch: FirstTouchView,
}

/// First-touch SLA of an accepted lead.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FirstTouchView {
    /// Set at acceptance.
    pub due_at: Option<DateTime<Utc>>,
    pub touched_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
}

impl LeadRow {
    /// The lead as the API shows it at `now` (which decides its `sla.status`).
    pub fn into_view(self, now: DateTime<Utc>) -> Lead {
        let sla = sla_view(&self, now);
        Lead {
            id: self.id,
            source: self.source,
            external_id: self.external_id,
            lead_type: self.lead_type,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            title: self.title,
            phone: self.phone,
            company: self.company,
            score: self.score,
            campaign: self.campaign,
            channel: self.channel,
            queue: self.queue,
            owner: self.owner,
            attributes: self.attributes,
            state: self.state,
            cycle: self.cycle,
            routed_at: self.routed_at,
            accepted_by: self.accepted_by,
            accepted_at: self.accepted_at,
            accepted_within_sla: self.accepted_within_sla,
            rejected_by: self.rejected_by,
            rejected_at: self.rejected_at,
            rejection_code: self.rejection_code,
            recycled_by: self.recycled_by,
            recycled_at: self.recycled_at,
            recycle_reason: self.recycle_reason,
            decision_note: self.decision_note,
            next_action: self.next_action,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            account_id: self.account_id,
            possible_duplicates: self.possible_duplicates.map(|d| d.0).unwrap_or_default(),
            sla,
            prediction: None,
        }
    }
}

/// The `sla` object, when the cycle has deadlines.
fn sla_view(row: &LeadRow, now: DateTime<Utc>) -> Option<SlaView> {
    let (Some(policy), Some(due_at), Some(at_risk_at)) =
        (&row.sla_policy, row.sla_due_at, row.sla_at_risk_at)
    else {
        return None;
    };
    // The cycle's decision: the accept if there was one, else the reject or recycle.
    let decided_at = row.accepted_at.or(row.rejected_at).or(row.recycled_at);
    let facts = SlaFacts {
        state: row.state,
        due_at,
        at_risk_at,
        breached_at: row.sla_breached_at,
        decided_at,
    };
    Some(SlaView {
        policy: policy.clone(),
        due_at,
        at_risk_at,
        breached_at: row.sla_breached_at,
        status: sla::status(facts, now),
        first_touch: FirstTouchView {
            due_at: row.first_touch_due_at,
            touched_at: row.first_touched_at,
            breached_at: row.first_touch_breached_at,
        },
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    /// A row as the outbox trigger snapshots it (`to_jsonb(leads)`): every column, including
    /// the internal ones the view leaves out.
    fn snapshot() -> Value {
        let mut row = json!({
            "id": "0193f6b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b", "source": "hubspot",
            "external_id": "c-1", "lead_type": "inbound_demo", "email": "ada@example.com",
            "first_name": "Ada", "last_name": null, "title": null, "phone": null,
            "company": {"name": "Acme"}, "score": 87.5, "campaign": null, "channel": null,
            "queue": "emea", "owner": "rep-1", "attributes": {"k": 1}, "state": "accepted",
            "cycle": 2, "routed_at": "2026-01-05T09:00:00+00:00", "accepted_by": "rep-1",
            "accepted_at": "2026-01-05T10:00:00+00:00", "accepted_within_sla": true
        });
        let decisions = json!({
            "rejected_by": null, "rejected_at": null, "rejection_code": null,
            "recycled_by": null, "recycled_at": null, "recycle_reason": null,
            "decision_note": null, "next_action": "call", "version": 3
        });
        let internal = json!({
            "created_at": "2026-01-01T09:00:00+00:00", "updated_at": "2026-01-05T10:00:00+00:00",
            "sla_policy": "default", "sla_due_at": "2026-01-05T13:00:00+00:00",
            "sla_at_risk_at": "2026-01-05T12:00:00+00:00", "sla_breached_at": null,
            "sla_at_risk_flagged_at": null, "first_touch_due_at": "2026-01-06T10:00:00+00:00",
            "first_touched_at": null, "first_touch_breached_at": null,
            "escalation_due_at": null, "tried_reps": []
        });
        for more in [decisions, internal] {
            if let (Some(row), Value::Object(more)) = (row.as_object_mut(), more) {
                row.extend(more);
            }
        }
        row
    }

    #[test]
    fn a_snapshot_row_becomes_the_api_lead_with_its_fields_in_order_and_its_sla() {
        let row: LeadRow = serde_json::from_value(snapshot()).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 5, 11, 0, 0).unwrap();
        let text = serde_json::to_string(&row.into_view(now)).unwrap();
        let view: Value = serde_json::from_str(&text).unwrap();
        // Top-level keys in the order they are written (none of them occurs nested).
        let mut keys: Vec<(usize, &str)> = view
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.as_str()))
            .collect();
        keys.sort();
        let keys: Vec<&str> = keys.into_iter().map(|(_, k)| k).collect();
        let order = "id source external_id lead_type email first_name last_name title phone \
            company score campaign channel queue owner attributes state cycle routed_at \
            accepted_by accepted_at accepted_within_sla rejected_by rejected_at rejection_code \
            recycled_by recycled_at recycle_reason decision_note next_action version created_at \
            updated_at account_id possible_duplicates sla";
        assert_eq!(keys, order.split_whitespace().collect::<Vec<_>>());
        assert_eq!(view["state"], "accepted");
        assert_eq!(
            view["sla"],
            json!({
                "policy": "default", "due_at": "2026-01-05T13:00:00Z",
                "at_risk_at": "2026-01-05T12:00:00Z", "breached_at": null, "status": "met",
                "first_touch": {"due_at": "2026-01-06T10:00:00Z", "touched_at": null,
                    "breached_at": null}
            })
        );
    }

    #[test]
    fn a_snapshot_with_a_state_outside_the_enum_is_refused() {
        let mut s = snapshot();
        s["state"] = json!("Accepted");
        assert!(serde_json::from_value::<LeadRow>(s).is_err());
    }
}
