//! The served model, per replica: fitted from the newest `models` row and kept in memory, so
//! scoring a lead costs no round trip. A replica looks for a newer row at most once per cache
//! TTL (one `max(id)` query), and installs the model it trained itself at once.

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use crate::{
    db::model::{self, ModelRow},
    domain::model::{NaiveBayes, Params},
};

/// A stored model as this replica serves it.
#[derive(Debug)]
pub struct Served {
    pub id: i64,
    /// `None` when the row says `not_enough_data`: no lead gets a prediction.
    pub model: Option<NaiveBayes>,
}

impl Served {
    pub fn from_row(row: &ModelRow) -> Served {
        let params = Params {
            alpha: row.alpha,
            min_support: row.min_support.max(0) as u64,
        };
        Served {
            id: row.id,
            model: row.ready.then(|| NaiveBayes::fit(&row.counts.0, params)),
        }
    }
}

pub struct ModelCache {
    ttl: Duration,
    /// The served model and when the database was last asked for a newer one.
    current: RwLock<(Option<Instant>, Option<Arc<Served>>)>,
    /// One refresh at a time: the others wait for it instead of all querying.
    refreshing: tokio::sync::Mutex<()>,
}

impl ModelCache {
    pub fn new(ttl: Duration) -> Self {
        ModelCache {
            ttl,
            current: RwLock::new((None, None)),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The model in memory, without asking the database.
    pub fn current(&self) -> Option<Arc<Served>> {
        self.read().1.clone()
    }

    /// The newest model, asking the database when the TTL has passed since it last did.
    pub async fn get(&self, db: &PgPool) -> Result<Option<Arc<Served>>, sqlx::Error> {
        if let Some(s) = self.checked_recently() {
            return Ok(s);
        }
        let _guard = self.refreshing.lock().await;
        if let Some(s) = self.checked_recently() {
            return Ok(s);
        }
        let cached = self.current();
        let newest = model::latest_id(db).await?;
        let served = match (newest, &cached) {
            (Some(id), Some(s)) if s.id == id => cached,
            (None, _) => None,
            _ => model::latest(db)
                .await?
                .map(|row| Arc::new(Served::from_row(&row))),
        };
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            (Some(Instant::now()), served.clone());
        Ok(served)
    }

    /// Serves `row` from now on (the replica that trained it), unless a newer one is served.
    pub fn install(&self, row: &ModelRow) {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        if cur.1.as_ref().is_none_or(|s| s.id < row.id) {
            cur.1 = Some(Arc::new(Served::from_row(row)));
        }
    }

    fn checked_recently(&self) -> Option<Option<Arc<Served>>> {
        let cur = self.read();
        cur.0
            .filter(|at| at.elapsed() < self.ttl)
            .map(|_| cur.1.clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (Option<Instant>, Option<Arc<Served>>)> {
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }
}
