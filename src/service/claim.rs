//! Claiming from a queue (docs/api.md §4): an SDR of the queue takes its most urgent
//! unassigned lead; concurrent claimers never receive the same one.

use super::{Caller, Error, Result, Service};
use crate::{db::routing, views::lead::Lead};

impl Service {
    /// The lead the caller's rep took from `queue`; `None` when none is waiting.
    pub async fn claim(&self, caller: &Caller, queue: &str) -> Result<Option<Lead>> {
        let rep = caller.actor.rep.clone().unwrap_or_default();
        if !routing::is_member(&self.db, queue, &rep).await? {
            return Err(Error::Forbidden(format!(
                "rep `{rep}` is not a member of queue `{queue}`"
            )));
        }
        let now = self.clock.now();
        let claimed = routing::claim(&self.db, queue, &rep, &caller.label, now).await?;
        Ok(claimed.map(|l| l.into_view(now)))
    }
}
