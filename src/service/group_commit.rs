//! Group commit of one-lead ingests (docs/architecture.md, "Group commit"): new leads that
//! arrive while groups' statements are in flight wait, then go together in one multi-row
//! statement, hence one transaction and one commit (`db::leads::many`); when and how they wait
//! is `super::batching`'s. A lead that arrives when fewer are in flight goes at once, alone, with
//! the one-lead statement: no timer, no added latency when idle.
//!
//! Every request is answered only after the commit that holds its lead, with what the one-lead
//! statement would have returned for it: its row, or "exists already" (the caller then takes
//! the one-lead path for a replay or a new cycle, as before). Within a group:
//! - a repeat of a key gets "exists already" after the first one's commit, without a turn;
//! - round-robin leads of one queue take consecutive turns in arrival order;
//! - when the multi-row statement fails on a row (a constraint, a trigger), nothing of it was
//!   written and each lead of the group runs alone, so only that lead gets its error; when the
//!   database is unreachable, every lead gets 503 as it would alone.
//!
//! The statements run in a task of their own, so a client that leaves (axum then drops its
//! request) cannot stop the others' commit halfway: its lead is stored whole or, when it left
//! before its group was taken, not at all.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{batching::Batches, error::UNAVAILABLE, Error, Result};
use crate::{
    db::{
        self,
        lane::Lane,
        leads::{self, CycleSla, GroupRow, LeadRow, Who},
    },
    domain::{lead_input::NewLead, Role},
};

pub use super::batching::{MAX_GROUP, MAX_IN_FLIGHT};

/// A new lead waiting for its group, with what its request would bind alone.
pub struct Item {
    pub lead: NewLead,
    pub sla: CycleSla,
    pub actor: String,
    pub role: Role,
    pub now: DateTime<Utc>,
    pub route: Route,
}

/// How the owner is chosen: leads of one group share a statement only with the same route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The lead's own owner (or none), as `insert_new`.
    Owner,
    /// Round robin among `eligible` (rep ids in order) by the queue's sequence `seq`, as
    /// `insert_new_round_robin_cached`.
    RoundRobin { seq: String, eligible: Vec<String> },
}

/// What became of an item: the item back (the caller may need it for the one-lead path) and
/// its row when it was inserted, `None` when its `(source, external_id)` exists already.
pub struct Done {
    pub item: Item,
    pub inserted: Result<Option<LeadRow>>,
}

struct Pending {
    item: Item,
    reply: oneshot::Sender<Done>,
}

impl Pending {
    fn answer(self, inserted: Result<Option<LeadRow>>) {
        // A request whose client left has nobody to tell; its lead's fate is settled already.
        let _ = self.reply.send(Done {
            item: self.item,
            inserted,
        });
    }

    fn who(&self) -> Who<'_> {
        Who {
            actor: &self.item.actor,
            role: self.item.role,
        }
    }
}

pub struct GroupCommit {
    lane: Arc<Lane>,
    batches: Batches<Pending>,
}

impl GroupCommit {
    pub fn new(lane: Arc<Lane>) -> Arc<GroupCommit> {
        Arc::new(GroupCommit {
            lane,
            batches: Batches::default(),
        })
    }

    /// Inserts `item`'s lead with the next group, alone when nothing is in flight.
    pub async fn insert(self: &Arc<Self>, item: Item) -> Result<Done> {
        let (reply, answer) = oneshot::channel();
        let start = self.batches.push(Pending { item, reply });
        if start {
            tokio::spawn(Arc::clone(self).run());
        }
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the group commit task ended early")))
    }

    /// Leads waiting for a group now (tests watch it to know a group has formed).
    pub fn waiting(&self) -> usize {
        self.batches.waiting()
    }

    /// Takes groups until none is waiting.
    async fn run(self: Arc<Self>) {
        let mut runner = self.batches.runner();
        while let Some(group) = runner.next_group() {
            self.commit(group).await;
        }
    }

    async fn commit(&self, group: Vec<Pending>) {
        // A request whose client left before its group was taken is not stored, as a request
        // dropped before its statement never was.
        let group = group.into_iter().filter(|p| !p.reply.is_closed());
        let mut seen = std::collections::HashSet::new();
        let mut repeats = Vec::new();
        let mut routes: Vec<(Route, Vec<Pending>)> = Vec::new();
        for p in group {
            let key = (p.item.lead.source.clone(), p.item.lead.external_id.clone());
            if !seen.insert(key) {
                repeats.push(p);
                continue;
            }
            match routes.iter_mut().find(|(r, _)| *r == p.item.route) {
                Some((_, ps)) => ps.push(p),
                None => routes.push((p.item.route.clone(), vec![p])),
            }
        }
        for (route, ps) in routes {
            if ps.len() == 1 {
                for p in ps {
                    self.alone(p).await;
                }
            } else {
                self.together(&route, ps).await;
            }
        }
        // After the commit of the first one: the one-lead path finds it.
        for p in repeats {
            p.answer(Ok(None));
        }
    }

    /// One statement for `ps` (two or more, one route); each alone if it fails on a row.
    async fn together(&self, route: &Route, ps: Vec<Pending>) {
        let ids: Vec<Uuid> = ps.iter().map(|_| Uuid::now_v7()).collect();
        let outcome = {
            let rows: Vec<GroupRow> = (ps.iter().zip(&ids))
                .map(|(p, id)| GroupRow {
                    id: *id,
                    lead: &p.item.lead,
                    sla: &p.item.sla,
                    who: p.who(),
                    now: p.item.now,
                })
                .collect();
            self.statement(route, &rows).await
        };
        match outcome {
            Ok(inserted) => {
                metrics::counter!("salgate_ingest_group_commits_total").increment(1);
                metrics::counter!("salgate_ingest_grouped_leads_total")
                    .increment(inserted.len() as u64);
                let mut by_id: std::collections::HashMap<Uuid, LeadRow> =
                    inserted.into_iter().map(|row| (row.id, row)).collect();
                for (p, id) in ps.into_iter().zip(ids) {
                    let row = by_id.remove(&id);
                    p.answer(Ok(row));
                }
            }
            Err(e) if db::is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                for p in ps {
                    p.answer(Err(Error::Unavailable(UNAVAILABLE)));
                }
            }
            Err(e) => {
                // Nothing of the statement was written: each lead alone, so that only the one
                // at fault gets the error.
                tracing::warn!(error = %e, leads = ps.len(), "group insert failed; one by one");
                for p in ps {
                    self.alone(p).await;
                }
            }
        }
    }

    async fn statement(
        &self,
        route: &Route,
        rows: &[GroupRow<'_>],
    ) -> Result<Vec<LeadRow>, sqlx::Error> {
        let mut conn = self.lane.acquire().await?;
        let inserted = match route {
            Route::Owner => leads::insert_many_rows(&mut conn, rows).await,
            Route::RoundRobin { seq, eligible } => {
                leads::insert_many_round_robin(&mut conn, rows, seq, eligible).await
            }
        };
        conn.release_after(inserted)
    }

    /// `p` with the one-lead statement, as an ingest without group commit runs it.
    async fn alone(&self, p: Pending) {
        let inserted = async {
            let mut conn = self.lane.acquire().await?;
            let (item, who) = (&p.item, p.who());
            let inserted = match &item.route {
                Route::Owner => {
                    leads::insert_new(&mut *conn, &item.lead, &item.sla, &who, item.now).await
                }
                Route::RoundRobin { seq, eligible } => {
                    let eligible: Vec<&str> = eligible.iter().map(String::as_str).collect();
                    leads::insert_new_round_robin_cached(
                        &mut *conn, &item.lead, &item.sla, &who, item.now, seq, &eligible,
                    )
                    .await
                }
            };
            conn.release_after(inserted)
        }
        .await
        .map_err(Error::from);
        p.answer(inserted);
    }
}
