//! Ingest through a queue (docs/api.md §4): the queue's strategy picks the owner, from the
//! replica's cache in one statement when it can, else under the queue's locks; a sticky queue
//! first asks the lead's account; a re-routed lead passes over its earlier deciders.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{group_item, Ingested, INGESTING};
use crate::{
    db::{
        leads::{self, CycleSla, LeadRow, Who},
        routing::{self, QueuePick, QueueSnapshot},
    },
    domain::{
        lead::{route, Routing},
        lead_input::NewLead,
        routing::{pick_avoiding, Strategy},
    },
    service::{group_commit::Route, retry_on_race, Result, Service},
};

impl Service {
    /// Ingest whose owner comes from the lead's queue: the pick, the round-robin position and
    /// the lead are written in one transaction, so concurrent ingests are exactly fair and a
    /// lead that turns out to exist already (open or accepted) moves nothing.
    pub(super) async fn ingest_through_queue(
        &self,
        lead: NewLead,
        sla: CycleSla,
        note: Map<String, Value>,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Ingested<LeadRow>> {
        let queue = lead.queue.clone().unwrap_or_default();
        let account = sla.found.account.as_ref().map(|a| a.id);
        if let Some(done) = self
            .round_robin_from_cache(&lead, &sla, &note, &queue, account.is_some(), who, now)
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
            let account = account.filter(|_| snapshot.sticky_account);
            // Round robin over reps without a capacity needs no lock: the turn decides.
            let uncapped = snapshot.members.iter().all(|m| m.capacity.is_none());
            if snapshot.strategy == Strategy::RoundRobin && uncapped && account.is_none() {
                let stored = self
                    .store_round_robin(lead, sla, note, &snapshot, who, now)
                    .await?;
                return Ok(stored.map(QueueOutcome::Done));
            }
            let through = Through {
                queue,
                turn: snapshot.turn,
                account,
                avoid: &snapshot.deciders,
            };
            let picked = self
                .pick_and_store(lead, sla, note, through, who, now)
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
        let (members, avoid) = (&snapshot.members, &snapshot.deciders);
        lead.owner =
            pick_avoiding(Strategy::RoundRobin, members, turn, now, &[], avoid).map(|p| p.rep);
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
    /// replica's queue cache. `None` when the queue is not such a queue (or is sticky and the
    /// lead has an account), or the lead exists.
    #[allow(clippy::too_many_arguments)]
    async fn round_robin_from_cache(
        &self,
        lead: &NewLead,
        sla: &CycleSla,
        note: &Map<String, Value>,
        queue: &str,
        has_account: bool,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ingested<LeadRow>>> {
        let Some(info) = self.queues.get(&self.db, queue).await? else {
            return Ok(None);
        };
        if info.sticky_account && has_account {
            return Ok(None);
        }
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
    /// A sticky queue's lead goes to its account's owner, under the account's lock, when it has
    /// one. `None` when a concurrent change got in between.
    async fn pick_and_store(
        &self,
        lead: &NewLead,
        sla: &CycleSla,
        note: &Map<String, Value>,
        through: Through<'_>,
        who: &Who<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ingested<LeadRow>>> {
        let mut tx = self.db.begin().await?;
        let mut lead = lead.clone();
        let mut note = note.clone();
        let sticky = match through.account {
            Some(account) => routing::account_owner(&mut tx, account, now).await?,
            None => None,
        };
        if let Some(rep) = sticky {
            lead.owner = Some(rep);
            note.insert("assigned_by".into(), "account".into());
            note.insert("sticky_account".into(), true.into());
        } else {
            let (queue, turn, avoid) = (through.queue, through.turn, through.avoid);
            let picked = routing::pick_from_queue(&mut tx, queue, turn, now, avoid).await?;
            lead.owner = queue_note(picked, &mut note);
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
                let sla = self.reroute_sla(&current, &lead, &sla);
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
}

/// The owner a queue's pick gives a lead, and what the routing note says of it.
fn queue_note(picked: QueuePick, note: &mut Map<String, Value>) -> Option<String> {
    match picked {
        QueuePick::Rep { rep, strategy } => {
            note.insert("assigned_by".into(), strategy.as_str().into());
            Some(rep)
        }
        QueuePick::Nobody { strategy } => {
            note.insert("assigned_by".into(), strategy.as_str().into());
            let why = "no eligible rep or a claim queue";
            note.insert("unassigned".into(), why.into());
            None
        }
        QueuePick::UnknownQueue => {
            note.insert("unassigned".into(), "unknown queue".into());
            None
        }
    }
}

/// How a lead is routed through its queue: the turn taken, its account when the queue is
/// sticky, and the reps who decided it in earlier cycles.
#[derive(Clone, Copy)]
struct Through<'a> {
    queue: &'a str,
    turn: Option<i64>,
    account: Option<uuid::Uuid>,
    avoid: &'a [String],
}

/// How an attempt through the queue ended.
// Returned once per lead and moved on at once: boxing the lead would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum QueueOutcome {
    Done(Ingested<LeadRow>),
    /// The queue does not exist: the lead is stored unassigned instead.
    UnknownQueue,
}
