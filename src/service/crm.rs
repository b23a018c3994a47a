//! Decisions made in a CRM (docs/crm.md): a rep sets the lead status of the HubSpot contact or
//! Salesforce Lead, and the adapter hands the change here. A status that maps to a decision
//! becomes that decision through the same use case as the API's ([`Service::decide`]), as a
//! revops actor on behalf of the rep concerned, with the history naming the CRM user
//! (`hubspot:<source id>`, `salesforce:<user id>`). A rejection without an active code in the
//! mapped field is not applied: it is recorded as a `rejected_without_code` event and the
//! lead stays routed (on its SLA clock) until a code arrives. salgate's own write-backs coming
//! back as change events are recognised and ignored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Caller, Decision, Result, Service};
use crate::{
    crm::{CrmKind, CrmMapping},
    db::{
        crm::{self as crm_db, WithoutCode},
        leads::{self, LeadRow},
        reason_codes::{self, ReasonKind},
    },
    domain::{Actor, Command, LeadState, Role},
};

/// A change event counts as salgate's own write coming back when salgate wrote the same state
/// to the record within this long of the change (clock skew and the CRM's delay included).
pub const ECHO_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// A lead status (or rejection code) set in a CRM.
#[derive(Debug, Clone)]
pub struct CrmChange<'a> {
    pub crm: CrmKind,
    /// The contact id or Lead Id: the lead's `external_id`.
    pub record_id: &'a str,
    /// Who made it, as the history names them after `<crm>:`.
    pub user: &'a str,
    /// The CRM owner (or user) id of the person who made it, when the CRM says.
    pub user_owner_id: Option<&'a str>,
    /// The code in the mapped rejection-code field, when the CRM sent it.
    pub code: Option<&'a str>,
    /// When the CRM says the change happened.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The salgate state the record carries in its mapped `state` field, when sent (set only
    /// by salgate's own writes).
    pub written_state: Option<&'a str>,
}

/// What a CRM change came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromCrm {
    /// The decision was applied.
    Decided(Uuid),
    /// salgate's own write coming back: nothing done.
    Echo,
    /// The status maps to no decision, or the lead is in that state already.
    Unchanged,
    /// No lead of this CRM has this record id.
    UnknownLead,
    /// A rejection without an active code: recorded, the lead stays routed.
    RejectedWithoutCode(Uuid),
    /// Refused by the decision rules (e.g. the lead was decided already): nothing done.
    Refused(String),
}

impl FromCrm {
    pub fn label(&self) -> &'static str {
        match self {
            FromCrm::Decided(_) => "decided",
            FromCrm::Echo => "echo",
            FromCrm::Unchanged => "unchanged",
            FromCrm::UnknownLead => "unknown_lead",
            FromCrm::RejectedWithoutCode(_) => "rejected_without_code",
            FromCrm::Refused(_) => "refused",
        }
    }
}

impl Service {
    /// The newest `limit` write-backs matching `filter` (`GET /v1/crm-writebacks`).
    pub async fn crm_writebacks(
        &self,
        filter: &crm_db::Filter<'_>,
        limit: i64,
    ) -> Result<Vec<crm_db::Listed>> {
        let read = self.read(|pool| async move { Ok(crm_db::list(&pool, filter, limit).await?) });
        Ok(read.await?.0)
    }

    /// Whether the CRM event `(provider, key)` was handled before (a redelivery).
    pub async fn crm_event_seen(&self, provider: &str, key: &str) -> Result<bool> {
        Ok(crate::db::integrations::seen(&self.db, provider, key).await?)
    }

    /// Remembers the CRM event `(provider, key)` as handled.
    pub async fn crm_event_done(&self, provider: &str, key: &str) -> Result<()> {
        let now = self.clock.now();
        Ok(crate::db::integrations::remember(&self.db, provider, key, None, now).await?)
    }

    /// Applies the lead status `status` set in the CRM (see the module doc).
    pub async fn status_from_crm(
        &self,
        mapping: &CrmMapping,
        change: &CrmChange<'_>,
        status: &str,
    ) -> Result<FromCrm> {
        let outcome = self
            .status_from_crm_uncounted(mapping, change, status)
            .await;
        count(change.crm, &outcome);
        outcome
    }

    async fn status_from_crm_uncounted(
        &self,
        mapping: &CrmMapping,
        change: &CrmChange<'_>,
        status: &str,
    ) -> Result<FromCrm> {
        let crm = change.crm.as_str();
        let Some(lead) = leads::get_by_external(&self.db, crm, change.record_id).await? else {
            return Ok(FromCrm::UnknownLead);
        };
        let Some(state) = mapping.state_of(status) else {
            return Ok(FromCrm::Unchanged);
        };
        if self.is_echo(&lead, change, state).await? {
            return Ok(FromCrm::Echo);
        }
        if lead.state == state || state == LeadState::Routed {
            return Ok(FromCrm::Unchanged);
        }
        let note = format!(
            "set in {crm}: {} = {status}",
            mapping.field("status").unwrap_or("status")
        );
        let command = match state {
            LeadState::Accepted => Command::Accept,
            LeadState::Rejected => match self.valid_rejection_code(change.code).await? {
                Some(code) => Command::Reject { code, note: None },
                None => return self.without_code(&lead, change, status).await,
            },
            _ => self.recycle_command(change.code, &note).await?,
        };
        self.decide_as_crm(&lead, change, command, note).await
    }

    /// A rejection code set in the CRM: applies the rejection the lead's open cycle waits for
    /// (a `rejected_without_code` from the CRM); otherwise nothing.
    pub async fn code_from_crm(&self, change: &CrmChange<'_>) -> Result<FromCrm> {
        let crm = change.crm.as_str();
        let Some(lead) = leads::get_by_external(&self.db, crm, change.record_id).await? else {
            return Ok(FromCrm::UnknownLead);
        };
        if lead.state != LeadState::Routed || !crm_db::pending_rejection(&self.db, lead.id).await? {
            return Ok(FromCrm::Unchanged);
        }
        let outcome = match self.valid_rejection_code(change.code).await? {
            Some(code) => {
                let note = format!("rejection code set in {crm}");
                self.decide_as_crm(&lead, change, Command::Reject { code, note: None }, note)
                    .await?
            }
            None => FromCrm::Unchanged,
        };
        count(change.crm, &Ok(outcome.clone()));
        Ok(outcome)
    }

    /// Whether the change is salgate's write coming back: the record's own `state` field says
    /// the state the status maps to (only salgate writes it), or salgate wrote that state near
    /// the change's time (the latest write when the CRM gives no time).
    async fn is_echo(
        &self,
        lead: &LeadRow,
        change: &CrmChange<'_>,
        state: LeadState,
    ) -> Result<bool> {
        if let Some(written) = change.written_state {
            return Ok(written == state.as_str());
        }
        let crm = change.crm.as_str();
        let near = match change.occurred_at {
            Some(at) => {
                crm_db::states_written_near(&self.db, lead.id, crm, at, ECHO_WINDOW).await?
            }
            None => crm_db::last_state_written(&self.db, lead.id, crm)
                .await?
                .into_iter()
                .collect(),
        };
        Ok(near.iter().any(|s| s == state.as_str()))
    }

    /// The code when it is an active rejection code other than `other` (which needs a note a
    /// CRM field does not carry).
    async fn valid_rejection_code(&self, code: Option<&str>) -> Result<Option<String>> {
        let Some(code) = code
            .map(str::trim)
            .filter(|c| !c.is_empty() && *c != "other")
        else {
            return Ok(None);
        };
        Ok(
            reason_codes::is_active(&self.db, ReasonKind::Rejection, code)
                .await?
                .then(|| code.to_string()),
        )
    }

    /// A recycle: the code field's value when it is an active recycle reason, else `other`;
    /// the note says where it came from (reversing an acceptance needs one).
    async fn recycle_command(&self, code: Option<&str>, note: &str) -> Result<Command> {
        let reason = match code.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) if reason_codes::is_active(&self.db, ReasonKind::Recycle, c).await? => c,
            _ => "other",
        };
        Ok(Command::Recycle {
            reason: reason.to_string(),
            note: Some(note.to_string()),
        })
    }

    async fn without_code(
        &self,
        lead: &LeadRow,
        change: &CrmChange<'_>,
        status: &str,
    ) -> Result<FromCrm> {
        let actor = format!("{}:{}", change.crm.as_str(), change.user);
        let w = WithoutCode {
            actor: &actor,
            role: Role::Revops.as_str(),
            code: change.code.filter(|c| !c.trim().is_empty()),
            note: "rejected in the CRM without an active rejection code; the lead stays routed \
                   until one is set",
            data: serde_json::json!({"crm": change.crm.as_str(), "status": status}),
        };
        if crm_db::record_rejected_without_code(&self.db, lead.id, &w, self.clock.now()).await? {
            Ok(FromCrm::RejectedWithoutCode(lead.id))
        } else {
            Ok(FromCrm::Unchanged)
        }
    }

    /// Decides `command` as the CRM user, on behalf of the rep mapped to them, else the
    /// lead's owner; at the version read (a lead that moved on in between is refused).
    async fn decide_as_crm(
        &self,
        lead: &LeadRow,
        change: &CrmChange<'_>,
        command: Command,
        note: String,
    ) -> Result<FromCrm> {
        let crm = change.crm.as_str();
        let mapped = match change.user_owner_id {
            Some(owner) => crm_db::rep_by_owner(&self.db, crm, owner).await?,
            None => None,
        };
        let Some(rep) = mapped.or_else(|| lead.owner.clone()) else {
            return Ok(FromCrm::Refused(
                "the lead has no owner and the CRM user maps to no rep".into(),
            ));
        };
        let caller = Caller {
            actor: Actor {
                role: Role::Revops,
                rep: None,
            },
            label: format!("{crm}:{}", change.user),
        };
        let note = match &command {
            Command::Recycle { note, .. } => note.clone(),
            _ => Some(note),
        };
        let decision = Decision {
            command,
            note,
            next_action: None,
            on_behalf_of: Some(rep),
            duplicate_of: None,
        };
        let version = lead.version.to_string();
        match self
            .decide(&caller, lead.id, &decision, Some(&version))
            .await
        {
            Ok(l) => Ok(FromCrm::Decided(l.id)),
            Err(e) if e.is_server_side() => Err(e),
            Err(e) => Ok(FromCrm::Refused(e.to_string())),
        }
    }
}

/// The `hubspot_owner_id` and `salesforce_owner_id` of a rep body: absent keeps the stored
/// one, `""` clears it; at most 80 characters, no spaces.
pub fn rep_owner_ids(
    f: &mut crate::domain::body::Check,
    hubspot: crate::domain::body::Field,
    salesforce: crate::domain::body::Field,
    stored: Option<&crate::db::routing::Rep>,
) -> (Option<String>, Option<String>) {
    let mut one = |key: &str, v: crate::domain::body::Field, stored: Option<&String>| {
        match v.get() {
            None => return stored.cloned(),
            Some(serde_json::Value::String(_)) => {}
            Some(_) => {
                f.error(key, "must be an owner id string, or \"\" to clear");
                return stored.cloned();
            }
        }
        let s = f.opt_str(key, v, 80)?;
        if s.chars().any(char::is_whitespace) {
            f.error(key, "must be an owner id without spaces");
            return None;
        }
        Some(s)
    };
    (
        one(
            "hubspot_owner_id",
            hubspot,
            stored.and_then(|r| r.hubspot_owner_id.as_ref()),
        ),
        one(
            "salesforce_owner_id",
            salesforce,
            stored.and_then(|r| r.salesforce_owner_id.as_ref()),
        ),
    )
}

/// The rep field whose uniqueness `e` violated, if it is an owner id.
pub fn owner_id_taken(e: &sqlx::Error) -> Option<&'static str> {
    if crate::db::is_constraint(e, "reps_hubspot_owner_id") {
        Some("hubspot_owner_id")
    } else if crate::db::is_constraint(e, "reps_salesforce_owner_id") {
        Some("salesforce_owner_id")
    } else {
        None
    }
}

fn count(crm: CrmKind, outcome: &Result<FromCrm>) {
    let label = match outcome {
        Ok(o) => o.label(),
        Err(_) => "error",
    };
    metrics::counter!("salgate_crm_decisions_total", "crm" => crm.as_str(), "outcome" => label)
        .increment(1);
}
