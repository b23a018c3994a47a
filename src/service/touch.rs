//! Logging a touch (call, email, …) on a routed or accepted lead (docs/api.md §3): the first
//! one of a cycle meets or misses its first-touch SLA.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{retry_on_race, Caller, Error, Result, Service};
use crate::{db::leads, domain::LeadState, views::lead::Lead};

impl Service {
    /// Records a touch by `channel` at `at` (not before the cycle was routed) on a lead the
    /// caller may see.
    pub async fn touch(
        &self,
        caller: &Caller,
        id: Uuid,
        channel: &str,
        at: DateTime<Utc>,
    ) -> Result<Lead> {
        let now = self.clock.now();
        let who = caller.who();
        let who = &who;
        retry_on_race("the touch was being logged", || async move {
            let lead = self.visible(caller, id).await?;
            if !matches!(lead.state, LeadState::Routed | LeadState::Accepted) {
                return Err(Error::Conflict {
                    code: "lead_closed",
                    detail: format!(
                        "the lead is {}; touches are logged on routed or accepted leads",
                        lead.state
                    ),
                });
            }
            if at < lead.routed_at {
                return Err(Error::field("at", "is before this cycle was routed"));
            }
            let rep = caller.actor.rep.as_deref().or(lead.owner.as_deref());
            let touched = leads::record_touch(&self.db, &lead, channel, at, who, rep, now).await?;
            Ok(touched.map(|l| l.into_view(now)))
        })
        .await
    }
}
