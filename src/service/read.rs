//! Reading leads under the visibility rule (`domain::visibility`): one lead, its history, and
//! the filtered list.

use uuid::Uuid;

use super::{cursor, Caller, Error, Result, Service};
use crate::{
    db::{
        history::{self, HistoryEntry},
        leads::{self, LeadFilter, LeadRow},
        routing,
    },
    domain::{
        visibility::{may_see, needs_membership, Audience},
        Actor, Role,
    },
    views::lead::Lead,
};

/// A page of leads, oldest first.
pub struct LeadPage {
    pub items: Vec<Lead>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl Service {
    /// One lead, as the caller may see it: `NotFound` when missing, `Forbidden` when not
    /// visible to the caller.
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Lead> {
        let lead = self.visible(caller, id).await?;
        let served = self.served_model().await?;
        let prediction = self.predict(served.as_deref(), &lead);
        let mut view = lead.into_view(self.clock.now());
        view.prediction = prediction;
        Ok(view)
    }

    /// Every transition and event of a lead the caller may see, oldest first.
    pub async fn history(&self, caller: &Caller, id: Uuid) -> Result<Vec<HistoryEntry>> {
        let lead = self.visible(caller, id).await?;
        Ok(history::for_lead(&self.db, lead.id).await?)
    }

    /// Up to `limit` leads matching `filter` that the caller may see, after `filter.after`.
    /// The `sla_status` filter and each lead's `sla` are evaluated at the same clock reading.
    pub async fn list(&self, caller: &Caller, filter: LeadFilter, limit: i64) -> Result<LeadPage> {
        let mut filter = filter;
        if caller.actor.role == Role::Sdr
            && filter.owner.is_some()
            && filter.owner != caller.actor.rep
        {
            return Err(Error::Forbidden(
                "an sdr key lists only its own rep's leads".into(),
            ));
        }
        filter.visible_to = Some(caller.actor.clone());
        let now = self.clock.now();
        let filter = &filter;
        let (mut items, _) = self
            .read(|pool| async move { Ok(leads::list(&pool, filter, limit + 1, now).await?) })
            .await?;
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|l| cursor::encode(l.id))
        } else {
            None
        };
        let served = self.served_model().await?;
        let items = items
            .into_iter()
            .map(|l| {
                let prediction = self.predict(served.as_deref(), &l);
                let mut view = l.into_view(now);
                view.prediction = prediction;
                view
            })
            .collect();
        Ok(LeadPage { items, next_cursor })
    }

    /// The lead (without its `sla` view) if the caller may see it.
    pub(super) async fn visible(&self, caller: &Caller, id: Uuid) -> Result<LeadRow> {
        let lead = leads::get(&self.db, id)
            .await?
            .ok_or(Error::NotFound("no lead with this id"))?;
        let audience = Audience {
            owner: lead.owner.as_deref(),
            rep_in_queue: self.rep_in_queue(&caller.actor, &lead).await?,
        };
        if !may_see(&caller.actor, audience) {
            return Err(Error::Forbidden(
                "this lead is not assigned to the rep of this key".into(),
            ));
        }
        Ok(lead)
    }

    /// Whether the actor's rep belongs to the lead's queue, looked up only when the rule
    /// depends on it (an SDR and an unassigned lead in a queue).
    pub(super) async fn rep_in_queue(&self, actor: &Actor, lead: &LeadRow) -> Result<bool> {
        let (Some(rep), Some(queue)) = (&actor.rep, &lead.queue) else {
            return Ok(false);
        };
        if !needs_membership(actor, lead.owner.as_deref(), Some(queue)) {
            return Ok(false);
        }
        Ok(routing::is_member(&self.db, queue, rep).await?)
    }
}
