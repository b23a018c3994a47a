//! Ingesting one lead (docs/api.md §4): its cycle's deadlines, its owner (the CRM's, or its
//! queue's pick), and a new lead, a new cycle, or nothing for an open or accepted one. Batches
//! and the CRM adapters end here too.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    group_commit::{Item, Route},
    judge::Judgement,
    retry_on_race, Result, Service,
};
use crate::{
    db::{
        leads::{self, CycleSla, LeadRow, Who},
        routing::{self, QueuePick, QueueSnapshot},
    },
    domain::{
        lead::{route, Routing},
        lead_input::NewLead,
        routing::{pick, Strategy},
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
const INGESTING: &str = "it was being ingested";

/// The deadlines a new cycle of `lead` starts with, from its policy, and what judging it
/// found (no routing note yet).
pub(super) fn cycle_sla(
    policies: &Snapshot,
    lead: &NewLead,
    judged: &Judgement,
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
        let mut sla = cycle_sla(&policies, &lead, &judged)?;
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

    /// Ingest whose owner comes from the lead's queue: the pick, the round-robin position and
    /// the lead are written in one transaction, so concurrent ingests are exactly fair and a
    /// lead that turns out to exist already (open or accepted) moves nothing.
    async fn ingest_through_queue(
        &self,
        lead: NewLead,
        sla: CycleSla,
        note: Map<String, Value>,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Ingested<LeadRow>> {
        let queue = lead.queue.clone().unwrap_or_default();
        if let Some(done) = self
            .round_robin_from_cache(&lead, &sla, &note, &queue, who, now)
            .await?
        {
            return Ok(done);
        }
        let (lead, sla, note, queue) = (&lead, &sla, &note, queue.as_str());
        let outcome = retry_on_race(INGESTING, || async move {
            let Some(snapshot) =
                routing::snapshot(&self.db, queue, &lead.source, &lead.external_id).await?
            else {
                return Ok(Some(QueueOutcome::UnknownQueue));
            };
            // Round robin over reps without a capacity needs no lock: the turn decides.
            let uncapped = snapshot.members.iter().all(|m| m.capacity.is_none());
            if snapshot.strategy == Strategy::RoundRobin && uncapped {
                let stored = self
                    .store_round_robin(lead, sla, note, &snapshot, who, now)
                    .await?;
                return Ok(stored.map(QueueOutcome::Done));
            }
            let picked = self
                .pick_and_store(lead, sla, note, queue, snapshot.turn, who, now)
                .await?;
            Ok(picked.map(QueueOutcome::Done))
        })
        .await?;
        match outcome {
            QueueOutcome::Done(done) => Ok(done),
            QueueOutcome::UnknownQueue => {
                let mut lead = lead.clone();
                lead.owner = None;
                let mut note = note.clone();
                note.insert("unassigned".into(), "unknown queue".into());
                let sla = CycleSla {
                    routing_note: Some(Value::Object(note)),
                    ..sla.clone()
                };
                let (lead, sla) = (&lead, &sla);
                retry_on_race(INGESTING, || self.store_once(lead, sla, who, now, true)).await
            }
        }
    }

    /// One attempt at round robin from a fresh snapshot of the queue (its members and turn).
    #[allow(clippy::too_many_arguments)]
    async fn store_round_robin(
        &self,
        lead: &NewLead,
        sla: &CycleSla,
        note: &Map<String, Value>,
        snapshot: &QueueSnapshot,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ingested<LeadRow>>> {
        let mut note = note.clone();
        let mut lead = lead.clone();
        let turn = snapshot.turn.unwrap_or(0);
        note.insert("assigned_by".into(), Strategy::RoundRobin.as_str().into());
        lead.owner = pick(Strategy::RoundRobin, &snapshot.members, turn, now, &[]).map(|p| p.rep);
        if lead.owner.is_none() {
            note.insert("unassigned".into(), "no eligible rep".into());
        }
        let sla = CycleSla {
            routing_note: Some(Value::Object(note)),
            ..sla.clone()
        };
        self.store_once(&lead, &sla, who, now, true).await
    }

    /// The common case in one statement: round robin over reps without a capacity, from the
    /// replica's queue cache. `None` when the queue is not such a queue, or the lead exists.
    async fn round_robin_from_cache(
        &self,
        lead: &NewLead,
        sla: &CycleSla,
        note: &Map<String, Value>,
        queue: &str,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ingested<LeadRow>>> {
        let Some(info) = self.queues.get(&self.db, queue).await? else {
            return Ok(None);
        };
        let uncapped = info.members.iter().all(|m| m.capacity.is_none());
        let eligible: Vec<&str> = info
            .members
            .iter()
            .filter(|m| m.eligible(now))
            .map(|m| m.id.as_str())
            .collect();
        let (true, true, Some(seq), false) = (
            info.strategy == Strategy::RoundRobin,
            uncapped,
            &info.rr_seq,
            eligible.is_empty(),
        ) else {
            return Ok(None);
        };
        let mut note = note.clone();
        note.insert("assigned_by".into(), Strategy::RoundRobin.as_str().into());
        let sla = CycleSla {
            routing_note: Some(Value::Object(note)),
            ..sla.clone()
        };
        let route = Route::RoundRobin {
            seq: seq.clone(),
            eligible: eligible.into_iter().map(str::to_owned).collect(),
        };
        let item = group_item(lead.clone(), sla, who, now, route);
        let done = self.group_commit.insert(item).await?;
        Ok(done.inserted?.map(Ingested::Created))
    }

    /// One attempt under the queue's lock: its pick and the lead in one transaction (rolled
    /// back, the round-robin position unmoved, when the lead is open or accepted already).
    /// `None` when a concurrent change got in between.
    #[allow(clippy::too_many_arguments)]
    async fn pick_and_store(
        &self,
        lead: &NewLead,
        sla: &CycleSla,
        note: &Map<String, Value>,
        queue: &str,
        turn: Option<i64>,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ingested<LeadRow>>> {
        let mut tx = self.db.begin().await?;
        let mut lead = lead.clone();
        let mut note = note.clone();
        match routing::pick_from_queue(&mut tx, queue, turn, now, &[]).await? {
            QueuePick::Rep { rep, strategy } => {
                lead.owner = Some(rep);
                note.insert("assigned_by".into(), strategy.as_str().into());
            }
            QueuePick::Nobody { strategy } => {
                lead.owner = None;
                note.insert("assigned_by".into(), strategy.as_str().into());
                note.insert(
                    "unassigned".into(),
                    "no eligible rep or a claim queue".into(),
                );
            }
            QueuePick::UnknownQueue => {
                lead.owner = None;
                note.insert("unassigned".into(), "unknown queue".into());
            }
        }
        let sla = CycleSla {
            routing_note: Some(Value::Object(note)),
            ..sla.clone()
        };
        if let Some(created) = leads::insert_new(&mut *tx, &lead, &sla, who, now).await? {
            tx.commit().await?;
            return Ok(Some(Ingested::Created(created)));
        }
        let Some(current) =
            leads::get_by_external(&mut *tx, &lead.source, &lead.external_id).await?
        else {
            return Ok(None);
        };
        match route(Some(current.state)) {
            // Rolling back leaves the round-robin position where it was.
            Routing::Unchanged => Ok(Some(Ingested::Unchanged(current))),
            Routing::New | Routing::NewCycle => {
                match leads::reroute(&mut *tx, &current, &lead, &sla, who, now).await? {
                    Some(rerouted) => {
                        tx.commit().await?;
                        Ok(Some(Ingested::Created(rerouted)))
                    }
                    None => Ok(None),
                }
            }
        }
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
                leads::reroute(&self.db, &current, lead, sla, who, now)
                    .await?
                    .map(Ingested::Created)
            }
        })
    }
}

/// A lead for the group commit, with what its request binds.
fn group_item(
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

/// How an attempt through the queue ended.
// Returned once per lead and moved on at once: boxing the lead would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum QueueOutcome {
    Done(Ingested<LeadRow>),
    /// The queue does not exist: the lead is stored unassigned instead.
    UnknownQueue,
}
