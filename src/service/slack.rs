//! Decisions made in Slack (issue 17): the Slack user is mapped to a rep, and the decision
//! goes through the same use case as the API's, as that rep (an `sdr`), with the history
//! naming the Slack user as the actor (`slack:<user id>`).

use uuid::Uuid;

use super::{Caller, Decision, Error, Result, Service};
use crate::{
    db::{
        leads,
        reason_codes::ReasonKind,
        slack::{self, SlackRep},
    },
    domain::{
        lead::{decide, LeadFacts},
        Actor, Command, DecisionError, Role,
    },
    views::lead::Lead,
};

/// What a decision from Slack came to, short of an error of the decision itself.
#[derive(Debug)]
pub enum FromSlack {
    Decided {
        lead: Box<Lead>,
        rep: SlackRep,
    },
    /// No rep has this Slack user id: nothing changed.
    Unmapped,
    /// The message was about an earlier routing of the lead: nothing changed.
    OtherCycle {
        current: i32,
    },
}

impl Service {
    /// The rep mapped to a Slack user.
    pub async fn slack_rep(&self, slack_user: &str) -> Result<Option<SlackRep>> {
        Ok(slack::rep_by_slack_user(&self.db, slack_user).await?)
    }

    /// Applies `decision` to cycle `cycle` of lead `lead` for the rep mapped to `slack_user`,
    /// under the API's rules (the owner decides; a decided lead is a conflict).
    pub async fn decide_from_slack(
        &self,
        slack_user: &str,
        lead: Uuid,
        cycle: i32,
        decision: &Decision,
    ) -> Result<FromSlack> {
        let Some(rep) = self.slack_rep(slack_user).await? else {
            return Ok(FromSlack::Unmapped);
        };
        let current = leads::get(&self.db, lead)
            .await?
            .ok_or(Error::NotFound("no lead with this id"))?;
        if current.cycle != cycle {
            return Ok(FromSlack::OtherCycle {
                current: current.cycle,
            });
        }
        let caller = Caller {
            actor: Actor {
                role: Role::Sdr,
                rep: Some(rep.id.clone()),
            },
            label: format!("slack:{slack_user}"),
        };
        // At the version just read: should a new cycle start in between, the decision is
        // refused (stale) rather than applied to a routing the message was not about.
        let version = current.version.to_string();
        let decided = self.decide(&caller, lead, decision, Some(&version)).await?;
        Ok(FromSlack::Decided {
            lead: Box::new(decided),
            rep,
        })
    }

    /// Whether the rep mapped to `slack_user` may make `command` on cycle `cycle` of `lead`
    /// now, by the domain's own rule and without writing: Reject… and Recycle… open no modal
    /// for a decision that would be refused. `Ok(None)` when it may.
    pub async fn check_from_slack(
        &self,
        slack_user: &str,
        lead: Uuid,
        cycle: i32,
        command: &Command,
    ) -> Result<Option<FromSlack>> {
        let Some(rep) = self.slack_rep(slack_user).await? else {
            return Ok(Some(FromSlack::Unmapped));
        };
        let current = leads::get(&self.db, lead)
            .await?
            .ok_or(Error::NotFound("no lead with this id"))?;
        if current.cycle != cycle {
            return Ok(Some(FromSlack::OtherCycle {
                current: current.cycle,
            }));
        }
        let actor = Actor {
            role: Role::Sdr,
            rep: Some(rep.id),
        };
        let facts = LeadFacts {
            state: current.state,
            owner: current.owner.as_deref(),
            queue_member: self.rep_in_queue(&actor, &current).await?,
        };
        // Only who may act and from which state: the code and note come with the modal.
        match decide(facts, &actor, command, None) {
            Ok(_) | Err(DecisionError::Invalid { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The active codes of `kind` as (code, label), for a modal's options.
    pub async fn live_codes(&self, kind: ReasonKind) -> Result<Vec<(String, String)>> {
        let codes = self.reason_codes(kind).await?;
        Ok(codes
            .into_iter()
            .filter(|c| c.active)
            .map(|c| (c.code, c.label))
            .collect())
    }
}
