//! Ingesting many leads (docs/api.md §5): new leads for an explicit, known-available owner
//! (or for nobody) are written with one multi-row statement; the others (queue routing, new
//! owners, re-sent or re-routed leads) take the one-lead path.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{ingest::cycle_sla, judge::Judgement, Error, Ingested, Result, Service};
use crate::{
    db::leads::{self, BatchItem, CycleSla, InsertedLead, Who},
    domain::lead_input::NewLead,
};

/// What became of one lead of a batch.
// Returned once per lead and moved on at once: boxing the lead would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum BatchOutcome {
    /// Inserted by the multi-row statement (a new lead, cycle 1).
    Inserted(InsertedLead),
    /// Through the one-lead path.
    Ingested(Ingested),
    /// Refused (the request's fault, as `POST /v1/leads` would refuse it).
    Failed(Error),
}

impl Service {
    /// Ingests `leads` (each with its position in the request) and returns an outcome for
    /// each, in position order. An item's own failure is its outcome; a failure of the service
    /// or its database fails the whole call (what was stored stays; re-sending is safe).
    pub async fn ingest_batch(
        &self,
        leads: Vec<(usize, NewLead)>,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(usize, BatchOutcome)>> {
        let policies = self.policies.get(&self.db).await?;
        let judged = {
            let all: Vec<&NewLead> = leads.iter().map(|(_, l)| l).collect();
            self.judge(&all, now).await?
        };
        let rules = self.rule_set().await?;
        let mut fast: Vec<(usize, NewLead, CycleSla)> = Vec::new();
        let mut slow: Vec<(usize, NewLead, Judgement)> = Vec::new();
        for ((i, lead), judged) in leads.into_iter().zip(judged) {
            let simple = match &lead.owner {
                Some(o) => self.reps.is_available(o),
                None => lead.queue.is_none(),
            };
            // A lead a rule matches takes the one-lead path, where the rules apply.
            if !simple
                || judged.accepted_owner(now).is_some()
                || rules.any_match(&lead, &judged, now)
            {
                slow.push((i, lead, judged));
                continue;
            }
            let mut sla = cycle_sla(&policies, &lead, &judged, &self.feature_attributes)?;
            let mut note = serde_json::Map::new();
            judged.note(&mut note);
            if lead.owner.is_some() {
                note.insert("assigned_by".into(), "crm".into());
            }
            sla.routing_note = (!note.is_empty()).then_some(serde_json::Value::Object(note));
            fast.push((i, lead, sla));
        }
        let mut out = Vec::with_capacity(fast.len() + slow.len());
        if !fast.is_empty() {
            let batch: Vec<BatchItem> = fast
                .iter()
                .map(|(_, lead, sla)| BatchItem { lead, sla })
                .collect();
            let inserted = leads::insert_many(&self.db, &batch, who, now).await?;
            let mut by_key: HashMap<(String, String), InsertedLead> = inserted
                .into_iter()
                .map(|l| ((l.source.clone(), l.external_id.clone()), l))
                .collect();
            for (i, lead, sla) in fast {
                // The first item with a key got the insert; the rest (re-sent, re-routed, or a
                // repeat within the batch) go through the one-lead path, in order.
                match by_key.remove(&(lead.source.clone(), lead.external_id.clone())) {
                    Some(l) => out.push((i, BatchOutcome::Inserted(l))),
                    None => {
                        let judged = Judgement {
                            identity: sla.identity,
                            found: sla.found,
                        };
                        slow.push((i, lead, judged))
                    }
                }
            }
            slow.sort_by_key(|(i, _, _)| *i);
        }
        for (i, lead, judged) in slow {
            out.push(match self.ingest_judged(lead, judged, who, now).await {
                Ok(done) => (i, BatchOutcome::Ingested(done)),
                Err(e) if e.is_server_side() => return Err(e),
                Err(e) => (i, BatchOutcome::Failed(e)),
            });
        }
        out.sort_by_key(|(i, _)| *i);
        Ok(out)
    }
}
