//! The SDR inbox (docs/pages.md): what a rep must decide, claim and touch next. The rows are
//! the API's lead views (`LeadRow::into_view`), so the SLA status rules live in one place.

use chrono::{DateTime, Utc};

use super::{Caller, Error, Result, Service};
use crate::{
    db::inbox::{self, QueueWaiting},
    domain::Role,
    views::lead::Lead,
};

/// How many rows each list shows at most; its total says how many there are.
pub const INBOX_LIMIT: i64 = 200;

/// One capped list and how many it holds in all.
#[derive(Debug, Clone)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// A lead waiting in one of the rep's queues.
#[derive(Debug, Clone)]
pub struct QueuedLead {
    pub lead: Lead,
    pub queue_name: String,
}

/// The inbox of one rep (or of every owner, for a revops viewer who picked no rep), as of
/// `now`.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Whose inbox this is; `None`: every owner's.
    pub rep: Option<String>,
    /// The clock reading every row's `sla` was computed at.
    pub now: DateTime<Utc>,
    /// Routed leads owned by the rep, decision due time first (no deadline last).
    pub mine: Listing<Lead>,
    /// Unassigned routed leads of the rep's queues, oldest due first.
    pub queued: Listing<QueuedLead>,
    /// The rep's queues with how many leads wait in each.
    pub queues: Vec<QueueWaiting>,
    /// Accepted leads of the rep without a first touch, first-touch due time first.
    pub untouched: Listing<Lead>,
}

impl Service {
    /// The inbox of the caller's rep. A revops or admin caller sees `for_rep`'s (every
    /// owner's when `None`); an SDR sees only their own.
    pub async fn inbox(&self, caller: &Caller, for_rep: Option<&str>) -> Result<Inbox> {
        let rep = match caller.actor.role {
            Role::Sdr => {
                let own = caller.actor.rep.clone();
                if for_rep.is_some() && for_rep != own.as_deref() {
                    return Err(Error::Forbidden(
                        "an sdr sees only their own rep's inbox".into(),
                    ));
                }
                own
            }
            Role::Revops | Role::Admin => for_rep.map(str::to_string),
            _ => {
                return Err(Error::Forbidden(
                    "the inbox is for sdr, revops and admin".into(),
                ))
            }
        };
        let r = rep.as_deref();
        let (mine, queued, queues, untouched, totals) = tokio::try_join!(
            inbox::mine(&self.db, r, INBOX_LIMIT),
            inbox::queued(&self.db, r, INBOX_LIMIT),
            inbox::queues(&self.db, r),
            inbox::untouched(&self.db, r, INBOX_LIMIT),
            inbox::totals(&self.db, r),
        )?;
        let now = self.clock.now();
        let waiting = queues.iter().map(|q| q.waiting).sum();
        Ok(Inbox {
            rep,
            now,
            mine: Listing {
                items: mine.into_iter().map(|l| l.into_view(now)).collect(),
                total: totals.mine,
            },
            queued: Listing {
                items: queued
                    .into_iter()
                    .map(|q| QueuedLead {
                        lead: q.lead.into_view(now),
                        queue_name: q.queue_name,
                    })
                    .collect(),
                total: waiting,
            },
            queues,
            untouched: Listing {
                items: untouched.into_iter().map(|l| l.into_view(now)).collect(),
                total: totals.untouched,
            },
        })
    }
}

/// Who made a lead's latest decision and when: what a person whose decision lost a race is
/// told ("already accepted by rep-2 2 minutes ago").
#[derive(Debug, Clone)]
pub struct LatestDecision {
    pub state: crate::domain::LeadState,
    pub version: i32,
    /// The deciding rep, when the lead is decided.
    pub by: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

impl Service {
    /// The active codes of `kind`, for the decision forms' choices.
    pub async fn active_reasons(
        &self,
        kind: crate::db::reason_codes::ReasonKind,
    ) -> Result<Vec<crate::db::reason_codes::ReasonCode>> {
        let all = crate::db::reason_codes::list(&self.db, kind).await?;
        Ok(all.into_iter().filter(|c| c.active).collect())
    }

    /// The state of lead `id` and its latest decision. Read without the visibility rule, as
    /// the lead may have left the caller's sight by the decision that beat theirs; it tells
    /// only who decided and when, which the caller's own attempt already concerned.
    pub async fn latest_decision(&self, id: uuid::Uuid) -> Result<LatestDecision> {
        use crate::domain::LeadState;
        let lead = crate::db::leads::get(&self.db, id)
            .await?
            .ok_or(Error::NotFound("no lead with this id"))?;
        let (by, at) = match lead.state {
            LeadState::Accepted => (lead.accepted_by, lead.accepted_at),
            LeadState::Rejected => (lead.rejected_by, lead.rejected_at),
            LeadState::Recycled => (lead.recycled_by, lead.recycled_at),
            LeadState::Routed => (lead.owner, None),
        };
        Ok(LatestDecision {
            state: lead.state,
            version: lead.version,
            by,
            at,
        })
    }
}
