//! Accept, reject, recycle (docs/api.md §2): the domain decides, the reason code must be
//! active, and one guarded statement applies the decision with its history row.

use uuid::Uuid;

use super::{retry_on_race, Caller, Error, Result, Service};
use crate::{
    db::{
        leads::{self, DecisionWrite},
        reason_codes::{self, ReasonKind},
    },
    domain::{
        lead::{decide, LeadFacts},
        validation::FieldError,
        Command,
    },
    views::lead::Lead,
};

/// A decision request, parsed.
#[derive(Debug, Clone)]
pub struct Decision {
    pub command: Command,
    pub note: Option<String>,
    pub next_action: Option<String>,
    /// The rep a revops or admin key decides for.
    pub on_behalf_of: Option<String>,
    /// A `duplicate` rejection: the lead this one duplicates (recorded in its history entry).
    pub duplicate_of: Option<Uuid>,
}

impl Service {
    /// Applies `decision` to lead `id`. `expected_version` (an `If-Match`) refuses with
    /// `StaleVersion` when the lead has moved on; a race lost to a concurrent change re-reads
    /// and decides again.
    pub async fn decide(
        &self,
        caller: &Caller,
        id: Uuid,
        decision: &Decision,
        expected_version: Option<&str>,
    ) -> Result<Lead> {
        retry_on_race("this decision was being applied", || {
            self.decide_once(caller, id, decision, expected_version)
        })
        .await
    }

    async fn decide_once(
        &self,
        caller: &Caller,
        id: Uuid,
        decision: &Decision,
        expected_version: Option<&str>,
    ) -> Result<Option<Lead>> {
        // The lane's connection is released after each statement: none is held while the
        // checks below read from the pool.
        let mut conn = self.lane.acquire().await?;
        let read = leads::get(&mut *conn, id).await;
        let lead = conn
            .release_after(read)?
            .ok_or(Error::NotFound("no lead with this id"))?;
        if let Some(v) = expected_version {
            if v != lead.version.to_string() {
                return Err(Error::StaleVersion {
                    current: lead.version,
                });
            }
        }
        let facts = LeadFacts {
            state: lead.state,
            owner: lead.owner.as_deref(),
            queue_member: self.rep_in_queue(&caller.actor, &lead).await?,
        };
        let decided = decide(
            facts,
            &caller.actor,
            &decision.command,
            decision.on_behalf_of.as_deref(),
        )?;
        self.check_code(&decision.command).await?;
        if let Some(other) = decision.duplicate_of {
            self.check_duplicate_of(id, other).await?;
        }
        let now = self.clock.now();
        let first_touch_due_at = match decision.command {
            Command::Accept => {
                let policies = self.policies.get(&self.db).await?;
                let name = lead.sla_policy.as_deref().unwrap_or(&lead.lead_type);
                policies
                    .resolve(name, lead.queue.as_deref())
                    .map(|p| p.first_touch_due(now))
            }
            _ => None,
        };
        let write = DecisionWrite {
            decided: &decided,
            command: &decision.command,
            note: decision.note.as_deref(),
            next_action: decision.next_action.as_deref(),
            first_touch_due_at,
            duplicate_of: decision.duplicate_of,
        };
        let mut conn = self.lane.acquire().await?;
        let applied = leads::apply_decision(&mut *conn, &lead, &write, &caller.who(), now).await;
        let Some(updated) = conn.release_after(applied)? else {
            // Lost a race: the next read sees the winner's state (409) or version (412).
            return Ok(None);
        };
        metrics::counter!("salgate_decisions_total", "outcome" => decided.to.as_str()).increment(1);
        Ok(Some(updated.into_view(now)))
    }

    /// `duplicate_of` names another lead that exists.
    async fn check_duplicate_of(&self, id: Uuid, other: Uuid) -> Result<()> {
        let problem = if other == id {
            "is this lead itself"
        } else if leads::get(&self.db, other).await?.is_none() {
            "is not a lead"
        } else {
            return Ok(());
        };
        Err(Error::Validation(vec![FieldError {
            field: "duplicate_of".into(),
            message: problem.into(),
        }]))
    }

    /// A reject's code and a recycle's reason must be active in the taxonomy.
    async fn check_code(&self, command: &Command) -> Result<()> {
        let (kind, field, code, err) = match command {
            Command::Accept => return Ok(()),
            Command::Reject { code, .. } => (
                ReasonKind::Rejection,
                "code",
                code,
                "unknown_rejection_code",
            ),
            Command::Recycle { reason, .. } => (
                ReasonKind::Recycle,
                "reason",
                reason,
                "unknown_recycle_reason",
            ),
        };
        if reason_codes::is_active(&self.db, kind, code).await? {
            Ok(())
        } else {
            Err(Error::UnknownCode {
                code: err,
                field,
                detail: format!("`{code}` is not an active {} code", kind.as_str()),
            })
        }
    }
}
