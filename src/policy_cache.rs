//! SLA policies and calendars, read on every ingest and accept, so kept in memory per replica
//! and refreshed after a short TTL (a change made through another replica applies within it;
//! one made through this replica applies at once).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::{
    db::sla::{self, CalendarRow, PolicyRow},
    domain::{
        sla::{OnBreach, Policy},
        working_time::Calendar,
    },
};

/// Everything needed to compute deadlines, as of one read.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub policies: HashMap<String, Policy>,
    /// Calendars of queues that have one.
    pub queue_calendars: HashMap<String, Arc<Calendar>>,
}

impl Snapshot {
    /// The policy for `lead_type` (else `default`) with its calendar resolved as docs/api.md §3 says:
    /// the policy's, else the lead's queue's, else none (24×7).
    pub fn resolve(&self, lead_type: &str, queue: Option<&str>) -> Option<Policy> {
        let mut policy = self
            .policies
            .get(lead_type)
            .or_else(|| self.policies.get("default"))?
            .clone();
        if policy.calendar.is_none() {
            policy.calendar = queue.and_then(|q| self.queue_calendars.get(q)).cloned();
        }
        Some(policy)
    }
}

pub struct PolicyCache {
    ttl: Duration,
    current: RwLock<Option<(Instant, Arc<Snapshot>)>>,
    /// One refresh at a time: the others wait for it instead of all querying.
    refreshing: tokio::sync::Mutex<()>,
}

impl PolicyCache {
    pub fn new(ttl: Duration) -> Self {
        PolicyCache {
            ttl,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Arc<Snapshot>> {
        let cur = self.current.read().unwrap_or_else(|e| e.into_inner());
        cur.as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, s)| s.clone())
    }

    pub async fn get(&self, db: &PgPool) -> Result<Arc<Snapshot>, sqlx::Error> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _guard = self.refreshing.lock().await;
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let snapshot = Arc::new(load(db).await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), snapshot.clone()));
        Ok(snapshot)
    }

    /// Drops the snapshot (after a policy or calendar was written on this replica).
    pub fn invalidate(&self) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

async fn load(db: &PgPool) -> Result<Snapshot, sqlx::Error> {
    let calendars: HashMap<String, Arc<Calendar>> = sla::calendars(db)
        .await?
        .iter()
        .filter_map(|row| match calendar_from_row(row) {
            Ok(c) => Some((row.id.clone(), Arc::new(c))),
            Err(e) => {
                // Rows are validated on write; this only guards against hand edits.
                tracing::error!(calendar = %row.id, error = %e, "stored calendar is invalid; ignoring it (24x7)");
                None
            }
        })
        .collect();
    let policies = sla::policies(db)
        .await?
        .into_iter()
        .map(|row| {
            let policy = policy_from_row(&row, &calendars);
            (row.lead_type, policy)
        })
        .collect();
    let queue_calendars = crate::db::routing::queues(db)
        .await?
        .into_iter()
        .filter_map(|q| Some((q.id, calendars.get(q.calendar_id.as_ref()?)?.clone())))
        .collect();
    Ok(Snapshot {
        policies,
        queue_calendars,
    })
}

pub fn policy_from_row(row: &PolicyRow, calendars: &HashMap<String, Arc<Calendar>>) -> Policy {
    Policy {
        name: row.lead_type.clone(),
        accept_within: chrono::Duration::seconds(row.accept_within_s),
        first_touch_within: chrono::Duration::seconds(row.first_touch_within_s),
        at_risk_ratio: row.at_risk_ratio,
        on_breach: OnBreach::parse(&row.on_breach).unwrap_or(OnBreach::Notify),
        calendar: row
            .calendar_id
            .as_ref()
            .and_then(|id| calendars.get(id).cloned()),
    }
}

/// The calendar a stored row describes.
pub fn calendar_from_row(row: &CalendarRow) -> Result<Calendar, String> {
    crate::domain::sla_input::build_calendar(&row.time_zone, &row.windows, &row.holidays).map_err(
        |e| {
            e.iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        },
    )
}

/// Reps known to exist and be available, so that ingest with an explicit owner does not pay a
/// round trip per lead to register or check it. A rep made inactive or away through another
/// replica still receives leads for up to the TTL; through this replica, not at all.
pub struct RepCache {
    ttl: Duration,
    available: RwLock<HashMap<String, Instant>>,
}

impl RepCache {
    pub fn new(ttl: Duration) -> Self {
        RepCache {
            ttl,
            available: RwLock::new(HashMap::new()),
        }
    }

    pub fn is_available(&self, rep: &str) -> bool {
        let map = self.available.read().unwrap_or_else(|e| e.into_inner());
        map.get(rep).is_some_and(|at| at.elapsed() < self.ttl)
    }

    pub fn remember_available(&self, rep: &str) {
        let mut map = self.available.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 100_000 {
            map.clear();
        }
        map.insert(rep.to_string(), Instant::now());
    }

    pub fn forget(&self, rep: &str) {
        self.available
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(rep);
    }
}

/// Queues and their members as routing reads them, per replica for the TTL, so round-robin
/// ingest is one statement (turn, pick and insert) that reads no queue or rep rows. A change
/// through this replica clears it at once; through another, it applies within the TTL (as for
/// [`RepCache`]).
pub struct QueueCache {
    ttl: Duration,
    queues: RwLock<HashMap<String, (Instant, Arc<crate::db::routing::QueueInfo>)>>,
}

impl QueueCache {
    pub fn new(ttl: Duration) -> Self {
        QueueCache {
            ttl,
            queues: RwLock::new(HashMap::new()),
        }
    }

    /// The queue, read from the database when not cached or stale; `None` when unknown.
    pub async fn get(
        &self,
        db: &PgPool,
        queue: &str,
    ) -> Result<Option<Arc<crate::db::routing::QueueInfo>>, sqlx::Error> {
        {
            let map = self.queues.read().unwrap_or_else(|e| e.into_inner());
            if let Some((at, info)) = map.get(queue) {
                if at.elapsed() < self.ttl {
                    return Ok(Some(info.clone()));
                }
            }
        }
        let Some(info) = crate::db::routing::queue_info(db, queue).await? else {
            return Ok(None);
        };
        let info = Arc::new(info);
        let mut map = self.queues.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(queue.to_string(), (Instant::now(), info.clone()));
        Ok(Some(info))
    }

    pub fn clear(&self) {
        self.queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
