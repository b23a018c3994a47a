//! Reassigning a routed lead (docs/api.md §4): to a rep, or to a queue whose strategy picks the
//! owner. The cycle's SLA due time does not move.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{retry_on_race, Caller, Error, Result, Service};
use crate::{
    db::routing::{self, QueuePick},
    domain::LeadState,
    views::lead::Lead,
};

/// Where an assigned lead goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// To this rep (registered if salgate has never seen it).
    Owner(String),
    /// To this queue; its strategy picks the owner (none for `claim`).
    Queue(String),
}

impl Service {
    /// Gives lead `id` (routed, visible to the caller) to `to`.
    pub async fn assign(&self, caller: &Caller, id: Uuid, to: &Assignment) -> Result<Lead> {
        let now = self.clock.now();
        if let Assignment::Owner(owner) = to {
            routing::register_owner(&self.db, owner, now).await?;
        }
        retry_on_race("it was being assigned", || async move {
            let lead = self.visible(caller, id).await?;
            if lead.state != LeadState::Routed {
                return Err(Error::Conflict {
                    code: "lead_not_routed",
                    detail: format!("the lead is {}; only routed leads are assigned", lead.state),
                });
            }
            let turn = match to {
                Assignment::Queue(q) => routing::take_turn(&self.db, q).await?,
                Assignment::Owner(_) => None,
            };
            let mut tx = self.db.begin().await?;
            let (owner, queue, note): (Option<String>, Option<&str>, Value) = match to {
                Assignment::Owner(o) => (
                    Some(o.clone()),
                    None,
                    json!({"from": lead.owner, "by": "revops"}),
                ),
                Assignment::Queue(q) => {
                    let (owner, strategy) =
                        match routing::pick_from_queue(&mut tx, q, turn, now, &[]).await? {
                            QueuePick::Rep { rep, strategy } => (Some(rep), strategy),
                            QueuePick::Nobody { strategy } => (None, strategy),
                            QueuePick::UnknownQueue => {
                                return Err(Error::field("queue", format!("no queue `{q}`")))
                            }
                        };
                    let note = json!({"from": lead.owner, "queue": q, "assigned_by": strategy});
                    (owner, Some(q.as_str()), note)
                }
            };
            let assigned = routing::assign(
                &mut *tx,
                &lead,
                owner.as_deref(),
                queue,
                &note,
                &caller.label,
                caller.actor.role,
                now,
            )
            .await?;
            if assigned.is_some() {
                tx.commit().await?;
            }
            Ok(assigned.map(|l| l.into_view(now)))
        })
        .await
    }
}
