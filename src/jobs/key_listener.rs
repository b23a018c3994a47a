//! Revocation reaches every replica: each one LISTENs on [`REVOKED_CHANNEL`] (notified in the
//! transaction of a revocation) and forgets its cached keys on every notice. A notice sent
//! while the connection was down is lost, so the cache is also cleared whenever the listener
//! (re)connects; the bounded cache TTL covers the time it cannot connect at all.

use std::{sync::Arc, time::Duration};

use sqlx::{
    postgres::{PgListener, PgPoolOptions},
    PgPool,
};
use tokio_util::sync::CancellationToken;

use crate::{
    db::api_keys::REVOKED_CHANNEL,
    http::auth::KeyCache,
    jobs::{self, Job, Schedule},
};

/// Waits between attempts to connect again: doubling from the first to the last.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct KeyListener {
    /// A pool of one connection of its own, so the listener takes none from the service's.
    db: PgPool,
    keys: Arc<KeyCache>,
    /// The wait before the next connection attempt.
    backoff: Duration,
}

impl KeyListener {
    pub fn new(pool: &PgPool, keys: Arc<KeyCache>) -> Self {
        let db = PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*pool.connect_options()).clone());
        KeyListener {
            db,
            keys,
            backoff: MIN_BACKOFF,
        }
    }

    /// Listens until cancelled, connecting again after any failure.
    pub async fn run(self, shutdown: CancellationToken) {
        let schedule = Schedule {
            first: Duration::ZERO,
            every: MAX_BACKOFF,
        };
        jobs::run(self, schedule, shutdown).await
    }

    /// One connection's life: returns when it is lost.
    async fn listen(&self) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(&self.db).await?;
        listener.eager_reconnect(false);
        listener.listen(REVOKED_CHANNEL).await?;
        // Anything revoked before this point is read from the database from now on.
        self.keys.clear();
        while let Some(notice) = listener.try_recv().await? {
            tracing::debug!(key = notice.payload(), "API key revoked: cache cleared");
            self.keys.clear();
        }
        Ok(())
    }
}

/// A step is one connection's life; the wait before the next one doubles from the first to the
/// last backoff.
impl Job for KeyListener {
    async fn step(&mut self, shutdown: &CancellationToken) -> Option<Duration> {
        let started = std::time::Instant::now();
        let result = tokio::select! {
            _ = shutdown.cancelled() => return None,
            r = self.listen() => r,
        };
        self.keys.clear();
        if let Err(e) = result {
            tracing::warn!(error = %e, "API key revocation listener lost its connection");
        }
        // A connection that lasted a while was good: the next attempt is quick again.
        if started.elapsed() > MAX_BACKOFF * 2 {
            self.backoff = MIN_BACKOFF;
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        Some(wait)
    }

    async fn finish(self) {
        self.db.close().await;
    }
}
