//! Rules at ingest. Every dry-run rule is evaluated and each match is recorded (nothing else
//! changes); among live rules the first match by position acts. Evaluated once per lead on
//! the lead as it arrived, before it is stored: `route` and `accept` set its queue and owner
//! then; after it is stored (a new lead or a new cycle), `reject`, `recycle` and `accept`
//! decide it at once through the decide use case, as the actor `rule:<id>`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{RuleSet, StoredRule};
use crate::{
    db::rules,
    domain::{
        account_key,
        lead_input::NewLead,
        rules::{Action, Facts, RuleInput},
        Actor, Command, Role,
    },
    service::{judge::Judgement, Caller, Decision, Ingested, Result, Service},
};

/// What the rules made of one lead before it was stored.
#[derive(Default)]
pub struct RuleOutcome {
    set: Option<Arc<RuleSet>>,
    /// The index in `set.live` of the live rule that acts.
    live: Option<usize>,
    /// Indexes in `set.dry_run` of the dry-run rules that matched.
    dry_run: Vec<usize>,
}

impl RuleOutcome {
    fn acting(&self) -> Option<&StoredRule> {
        Some(&self.set.as_ref()?.live[self.live?])
    }

    /// Notes in the routing entry which rule acted; `assigned_by: rule:<id>` when it chose the
    /// owner.
    pub fn note(&self, note: &mut Map<String, Value>) {
        let Some(rule) = self.acting() else {
            return;
        };
        note.insert("rule".into(), rule.id.to_string().into());
        if owner_of(&rule.rule.action).is_some() {
            note.insert("assigned_by".into(), rule.label.clone().into());
        }
    }
}

fn owner_of(action: &Action) -> Option<&str> {
    action.routes_to().and_then(|(_, owner)| owner)
}

/// The facts a rule reads of a lead being ingested.
fn facts(lead: &NewLead, judged: &Judgement, now: DateTime<Utc>) -> Facts {
    Facts {
        duplicate_found: !judged.found.duplicates.is_empty(),
        free_mail: account_key::free_mail(lead),
        account_accepted: judged.account_accepted(now),
    }
}

impl RuleSet {
    /// Which rules match `lead`: the first live one, and every dry-run one.
    fn evaluate(
        &self,
        lead: &NewLead,
        judged: &Judgement,
        now: DateTime<Utc>,
    ) -> (Option<usize>, Vec<usize>) {
        if self.is_empty() {
            return (None, Vec::new());
        }
        let attributes: Option<Map<String, Value>> = self
            .reads_attributes
            .then(|| serde_json::from_str(lead.attributes.get()).ok())
            .flatten();
        let input = RuleInput::of_lead(lead, attributes.as_ref(), facts(lead, judged, now));
        let live = self
            .live
            .iter()
            .position(|r| r.rule.condition.evaluate(&input));
        let dry = (0..self.dry_run.len())
            .filter(|i| self.dry_run[*i].rule.condition.evaluate(&input))
            .collect();
        (live, dry)
    }

    /// Whether any rule (live or dry run) matches `lead` (a batch sends those leads through
    /// the one-lead path, where the rules apply).
    pub fn any_match(&self, lead: &NewLead, judged: &Judgement, now: DateTime<Utc>) -> bool {
        let (live, dry) = self.evaluate(lead, judged, now);
        live.is_some() || !dry.is_empty()
    }
}

impl Service {
    /// The rules as this replica has them cached.
    pub(in crate::service) async fn rule_set(&self) -> Result<Arc<RuleSet>> {
        Ok(self.rule_cache.get(&self.db).await?)
    }

    /// Evaluates the rules on `lead` before it is stored; a live `route` or `accept` sets its
    /// queue and owner (a queue without an owner leaves the pick to the queue's strategy).
    pub(in crate::service) async fn apply_rules(
        &self,
        lead: &mut NewLead,
        judged: &Judgement,
        now: DateTime<Utc>,
    ) -> Result<RuleOutcome> {
        let set = self.rule_set().await?;
        let (live, dry_run) = set.evaluate(lead, judged, now);
        let outcome = RuleOutcome {
            set: Some(set),
            live,
            dry_run,
        };
        if let Some((queue, owner)) = outcome.acting().and_then(|r| r.rule.action.routes_to()) {
            if let Some(q) = queue {
                lead.queue = Some(q.to_owned());
            }
            lead.owner = owner.map(str::to_owned);
        }
        Ok(outcome)
    }

    /// After the lead was stored: records the dry-run matches of its new cycle and lets the
    /// acting rule decide it. A lead that was open or accepted already is left alone.
    pub(in crate::service) async fn finish_rules(
        &self,
        outcome: RuleOutcome,
        ingested: Ingested,
        now: DateTime<Utc>,
    ) -> Result<Ingested> {
        let (Some(set), Ingested::Created(lead)) = (&outcome.set, &ingested) else {
            return Ok(ingested);
        };
        if !outcome.dry_run.is_empty() {
            let records: Vec<_> = outcome
                .dry_run
                .iter()
                .map(|i| (set.dry_run[*i].id, set.dry_run[*i].rule.action.to_json()))
                .collect();
            rules::record_dry_runs(&self.db, &records, lead.id, lead.cycle, now).await?;
        }
        let Some(rule) = outcome.acting() else {
            return Ok(ingested);
        };
        let (command, on_behalf_of) = match &rule.rule.action {
            Action::Route { .. } => return Ok(ingested),
            Action::Accept { owner, .. } => (Command::Accept, owner.clone()),
            Action::Reject { code } => (
                Command::Reject {
                    code: code.clone(),
                    note: None,
                },
                rule.label.clone(),
            ),
            Action::Recycle { reason } => (
                Command::Recycle {
                    reason: reason.clone(),
                    note: None,
                },
                rule.label.clone(),
            ),
        };
        let caller = Caller {
            actor: Actor {
                role: Role::Revops,
                rep: None,
            },
            label: rule.label.clone(),
        };
        let decision = Decision {
            command,
            note: Some(format!("by rule \"{}\"", rule.rule.name)),
            next_action: None,
            on_behalf_of: Some(on_behalf_of),
            duplicate_of: None,
        };
        match self.decide(&caller, lead.id, &decision, None).await {
            Ok(decided) => Ok(Ingested::Created(decided)),
            Err(e) if e.is_server_side() => Err(e),
            // A code retired since the cache was read, or a person deciding first: the lead
            // stays as stored, for a person to decide.
            Err(e) => {
                tracing::warn!(rule = %rule.id, lead = %lead.id, error = %e, "rule decision refused; the lead stays routed");
                Ok(ingested)
            }
        }
    }
}
