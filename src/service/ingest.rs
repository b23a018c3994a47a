//! Ingesting one lead (docs/api.md §4): its cycle's deadlines, its owner (the CRM's, or its
//! queue's pick), and a new lead, a new cycle, or nothing for an open or accepted one. Batches
//! and the CRM adapters end here too.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

mod queue;

use super::{
    group_commit::{Item, Route},
    judge::Judgement,
    retry_on_race, Result, Service,
};
use crate::{
    db::{
        leads::{self, CycleSla, LeadRow, Who},
        routing,
    },
    domain::{
        lead::{route, Routing},
        lead_input::NewLead,
    },
    policy_cache::Snapshot,
    views::lead::Lead,
};

/// What ingesting one lead did: the lead as a response shows it (`L`: the stored row while the
/// use case works on it).
pub enum Ingested<L = Lead> {
    /// A new lead, or a new cycle of a rejected or recycled one.
    Created(L),
    /// The lead is open or accepted: nothing changed.
    Unchanged(L),
}

impl<L> Ingested<L> {
    pub fn lead(&self) -> &L {
        match self {
            Ingested::Created(l) | Ingested::Unchanged(l) => l,
        }
    }
}

impl Ingested<LeadRow> {
    fn into_view(self, now: DateTime<Utc>) -> Ingested {
        match self {
            Ingested::Created(l) => Ingested::Created(l.into_view(now)),
            Ingested::Unchanged(l) => Ingested::Unchanged(l.into_view(now)),
        }
    }
}

/// Completes "the lead kept changing while …".
pub(super) const INGESTING: &str = "it was being ingested";

/// The deadlines a new cycle of `lead` starts with, from its policy, and what judging it
/// found (no routing note yet).
pub(super) fn cycle_sla(
    policies: &Snapshot,
    lead: &NewLead,
    judged: &Judgement,
    feature_attributes: &[String],
) -> Result<CycleSla> {
    let policy = policies
        .resolve(&lead.lead_type, lead.queue.as_deref())
        .ok_or_else(|| anyhow::anyhow!("the default SLA policy is missing"))?;
    let deadlines = policy.deadlines(lead.routed_at);
    Ok(CycleSla {
        policy: policy.name.clone(),
        due_at: deadlines.due_at,
        at_risk_at: deadlines.at_risk_at,
        routing_note: None,
        identity: judged.identity.clone(),
        found: judged.found.clone(),
        features: super::features::of_new(lead, feature_attributes),
    })
}

impl Service {
    /// Ingests one parsed lead: owner, queue routing, SLA deadlines, new lead or new cycle.
    pub async fn ingest(
        &self,
        lead: NewLead,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Ingested> {
        let judged = self.judge(&[&lead], now).await?.pop().unwrap_or_default();
        self.ingest_judged(lead, judged, who, now).await
    }

    /// Ingests a lead judged already (its account and possible duplicates found).
    pub(super) async fn ingest_judged(
        &self,
        lead: NewLead,
        judged: Judgement,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Ingested> {
        let policies = self.policies.get(&self.db).await?;
        let mut sla = cycle_sla(&policies, &lead, &judged, &self.feature_attributes)?;
        // Who owns it: the CRM's choice wins; else an accepted account's owner; an unknown
        // owner is registered; an unavailable one defers to the queue when there is one (else
        // SLA escalation deals with it).
        let mut lead = lead;
        let rules = self.apply_rules(&mut lead, &judged, now).await?;
        let mut note = Map::new();
        judged.note(&mut note);
        if lead.owner.is_some() {
            note.insert("assigned_by".into(), "crm".into());
        } else if let Some(owner) = judged.accepted_owner(now) {
            lead.owner = Some(owner.to_owned());
            note.insert("assigned_by".into(), "account".into());
            note.insert("account_accepted".into(), true.into());
        }
        rules.note(&mut note);
        let mut from_queue = lead.owner.is_none() && lead.queue.is_some();
        if let Some(owner) = lead.owner.clone().filter(|o| !self.reps.is_available(o)) {
            let status = routing::register_owner(&self.db, &owner, now).await?;
            if status.available {
                self.reps.remember_available(&owner);
            }
            if status.registered {
                note.insert("owner_registered".into(), true.into());
            }
            if !status.available {
                note.insert("owner_unavailable".into(), owner.into());
                if lead.queue.is_some() {
                    from_queue = true;
                    lead.owner = None;
                }
            }
        }
        let ingested = if from_queue {
            self.ingest_through_queue(lead, sla, note, who, now).await?
        } else {
            sla.routing_note = (!note.is_empty()).then_some(Value::Object(note));
            self.store_with_owner(lead, sla, who, now).await?
        };
        self.finish_rules(rules, ingested.into_view(now), now).await
    }

    /// Stores a lead with its owner given (or none): a new one goes with the next group commit;
    /// one that exists already takes the one-lead path (a replay, a new cycle).
    async fn store_with_owner(
        &self,
        lead: NewLead,
        sla: CycleSla,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Ingested<LeadRow>> {
        let done = self
            .group_commit
            .insert(group_item(lead, sla, who, now, Route::Owner))
            .await?;
        if let Some(created) = done.inserted? {
            return Ok(Ingested::Created(created));
        }
        let (lead, sla) = (&done.item.lead, &done.item.sla);
        // The group found the lead stored: the first attempt need not try the insert again.
        let mut insert = false;
        retry_on_race(INGESTING, || {
            let attempt = self.store_once(lead, sla, who, now, insert);
            insert = true;
            attempt
        })
        .await
    }

    /// One attempt to store an ingested lead: a new lead (when `insert`), a new cycle of a
    /// rejected or recycled one, or nothing for an open or accepted one. `None` when a
    /// concurrent change got in between.
    async fn store_once(
        &self,
        lead: &NewLead,
        sla: &CycleSla,
        who: &Who<'_>,
        now: DateTime<Utc>,
        insert: bool,
    ) -> Result<Option<Ingested<LeadRow>>> {
        if insert {
            let mut conn = self.lane.acquire().await?;
            let inserted = leads::insert_new(&mut *conn, lead, sla, who, now).await;
            if let Some(created) = conn.release_after(inserted)? {
                return Ok(Some(Ingested::Created(created)));
            }
        }
        let Some(current) =
            leads::get_by_external(&self.db, &lead.source, &lead.external_id).await?
        else {
            return Ok(None);
        };
        Ok(match route(Some(current.state)) {
            Routing::Unchanged => Some(Ingested::Unchanged(current)),
            Routing::New | Routing::NewCycle => {
                let sla = &self.reroute_sla(&current, lead, sla);
                leads::reroute(&self.db, &current, lead, sla, who, now)
                    .await?
                    .map(Ingested::Created)
            }
        })
    }
}

/// A lead for the group commit, with what its request binds.
pub(super) fn group_item(
    lead: NewLead,
    sla: CycleSla,
    who: &Who<'_>,
    now: DateTime<Utc>,
    route: Route,
) -> Item {
    Item {
        lead,
        sla,
        actor: who.actor.to_owned(),
        role: who.role,
        now,
        route,
    }
}

impl Service {
    /// `sla` with the features of `current` re-routed with `lead` (its merged inputs).
    pub(super) fn reroute_sla(
        &self,
        current: &LeadRow,
        lead: &NewLead,
        sla: &CycleSla,
    ) -> CycleSla {
        CycleSla {
            features: super::features::of_reroute(current, lead, &self.feature_attributes),
            ..sla.clone()
        }
    }
}
