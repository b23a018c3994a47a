//! One-lead ingests judged together: a judgement that arrives while others' statements are in
//! flight waits and goes with the next group, in one `JUDGE` over arrays (`super::super::batching`
//! says when). Under load that is one statement for several leads instead of one each, as the
//! group commit does for their inserts; idle, a lead is judged at once, alone.
//!
//! A group judges with the latest of its leads' clocks (a new account's `created_at`) and the
//! earliest of their duplicate windows: the leads of one group arrived within one statement's
//! time of each other. Leads of one group do not see each other as duplicates, as two
//! concurrent ingests never did.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::oneshot;

use crate::{
    db::{
        self,
        judge::{self, Found, Subject},
    },
    domain::identity::Identity,
    service::{batching::Batches, error::UNAVAILABLE, Error, Result},
};

/// A lead waiting for its group's judgement.
struct Pending {
    source: String,
    external_id: String,
    identity: Identity,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Found>>,
}

impl Pending {
    fn subject(&self) -> Subject<'_> {
        Subject {
            source: &self.source,
            external_id: &self.external_id,
            identity: &self.identity,
        }
    }

    fn answer(self, found: Result<Found>) {
        // A request whose client left has nobody to tell.
        let _ = self.reply.send(found);
    }
}

pub struct GroupJudge {
    db: PgPool,
    batches: Batches<Pending>,
}

impl GroupJudge {
    pub fn new(db: PgPool) -> Arc<GroupJudge> {
        Arc::new(GroupJudge {
            db,
            batches: Batches::default(),
        })
    }

    /// Judges one lead with the next group, alone when nothing is in flight.
    pub async fn judge(
        self: &Arc<Self>,
        subject: Subject<'_>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Found> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            source: subject.source.to_owned(),
            external_id: subject.external_id.to_owned(),
            identity: subject.identity.clone(),
            since,
            now,
            reply,
        };
        if self.batches.push(pending) {
            // Its own task, so a client that leaves cannot stop the others' statement.
            tokio::spawn(Arc::clone(self).run());
        }
        answer
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("the judgement task ended early")))?
    }

    /// Judgements waiting for a group now (tests watch it to know a group has formed).
    pub fn waiting(&self) -> usize {
        self.batches.waiting()
    }

    async fn run(self: Arc<Self>) {
        let mut runner = self.batches.runner();
        while let Some(group) = runner.next_group() {
            self.judge_group(group).await;
        }
    }

    async fn judge_group(&self, group: Vec<Pending>) {
        let group: Vec<Pending> = group.into_iter().filter(|p| !p.reply.is_closed()).collect();
        let (Some(since), Some(now)) = (
            group.iter().map(|p| p.since).min(),
            group.iter().map(|p| p.now).max(),
        ) else {
            return;
        };
        let subjects: Vec<Subject<'_>> = group.iter().map(Pending::subject).collect();
        let outcome = async {
            let mut conn = self.db.acquire().await?;
            judge::judge(&mut conn, &subjects, since, now).await
        }
        .await;
        drop(subjects);
        match outcome {
            Ok(found) => {
                metrics::counter!("salgate_ingest_judgement_statements_total").increment(1);
                for (p, f) in group.into_iter().zip(found) {
                    p.answer(Ok(f));
                }
            }
            Err(e) if group.len() > 1 && db::is_unavailable(&e) => {
                tracing::warn!(error = %e, "database unavailable");
                for p in group {
                    p.answer(Err(Error::Unavailable(UNAVAILABLE)));
                }
            }
            Err(e) if group.len() > 1 => {
                // Nothing of it was written: each alone, so only the one at fault gets the error.
                tracing::warn!(error = %e, leads = group.len(), "group judgement failed; one by one");
                for p in group {
                    let found = async {
                        let mut conn = self.db.acquire().await?;
                        judge::judge(&mut conn, &[p.subject()], p.since, p.now).await
                    }
                    .await;
                    let found = found.map_err(Error::from).and_then(|mut f| {
                        f.pop()
                            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no judgement")))
                    });
                    p.answer(found);
                }
            }
            Err(e) => {
                if let Some(p) = group.into_iter().next() {
                    p.answer(Err(Error::from(e)));
                }
            }
        }
    }
}
