//! Claiming from a queue (docs/api.md §4): an SDR of the queue takes one of its unassigned
//! leads, in the queue's claim order (`domain::claim_order`); concurrent claimers never
//! receive the same one.

use super::{Caller, Error, Result, Service};
use crate::{
    db::{leads::LeadRow, routing},
    domain::{
        claim_order::{likely_accepted_first, ClaimOrder, CANDIDATES},
        features::FeatureVector,
    },
    service::model::named,
    views::lead::Lead,
};

/// How many ranked leads one claim statement tries, best first.
const CLAIM_SLICE: usize = 16;

impl Service {
    /// The lead the caller's rep took from `queue`; `None` when none is waiting.
    pub async fn claim(&self, caller: &Caller, queue: &str) -> Result<Option<Lead>> {
        let rep = caller.actor.rep.clone().unwrap_or_default();
        let Some(order) = routing::member_claim_order(&self.db, queue, &rep).await? else {
            return Err(Error::Forbidden(format!(
                "rep `{rep}` is not a member of queue `{queue}`"
            )));
        };
        let now = self.clock.now();
        let label = &caller.label;
        let claimed = match order {
            ClaimOrder::LikelyAccepted => {
                self.claim_likely_accepted(queue, &rep, label, now).await?
            }
            ClaimOrder::Due => None,
        };
        let claimed = match claimed {
            Some(lead) => Some(lead),
            None => routing::claim(&self.db, queue, &rep, label, now).await?,
        };
        Ok(claimed.map(|l| l.into_view(now)))
    }

    /// The lead of `queue` the served model rates most likely to be accepted, among its
    /// [`CANDIDATES`] most urgent; `None` without a ready model or when other claimers took
    /// every candidate meanwhile (the caller then claims the earliest due).
    async fn claim_likely_accepted(
        &self,
        queue: &str,
        rep: &str,
        actor: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<LeadRow>> {
        let served = self.served_model().await?;
        let Some(model) = served.as_ref().and_then(|s| s.model.as_ref()) else {
            return Ok(None);
        };
        let candidates = routing::candidates(&self.db, queue, CANDIDATES).await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let scored = candidates
            .into_iter()
            .map(|c| {
                let p = c.features.as_deref().map(|f| {
                    let features = named(&FeatureVector::decode(f));
                    model.score(features.iter().map(|(n, v)| (n.as_str(), v.as_str())))
                });
                (c.id, p)
            })
            .collect();
        let ids = likely_accepted_first(scored);
        // A few at a time: each statement probes and orders only its slice, and the first
        // slice almost always holds a lead nobody else took.
        for slice in ids.chunks(CLAIM_SLICE) {
            if let Some(lead) =
                routing::claim_among(&self.db, queue, slice, rep, actor, now).await?
            {
                return Ok(Some(lead));
            }
        }
        Ok(None)
    }
}
