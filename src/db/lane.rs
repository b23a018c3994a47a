//! Pool connections kept checked out for the request hot paths (one-lead ingest, accept,
//! reject), so that such a request costs PostgreSQL one round trip instead of two.
//!
//! sqlx 0.8's pool tests every connection given back to it with a Sync → ReadyForQuery round
//! trip (`PoolConnection::return_to_pool`; not configurable). For a request that runs one short
//! statement, that test wakes the server as often as the statement itself. With it and the
//! pool's test on hand-out (now only after 10 s idle, see `db::connect`), PostgreSQL spent
//! 36-40 % more CPU per lead over HTTP than pgbench spent on the same statement (bench/run.sh,
//! see bench/README.md).
//!
//! A connection taken from the lane is a pool connection that stays checked out. It comes back
//! to the lane, untested, when its statements ran to completion ([`LaneConn::release`] with
//! `true`). In every other case it goes back to the pool, which tests it and closes it if it is
//! broken: a request cancelled mid-statement (the guard is dropped), a network or server-side
//! failure, a connection idle for [`MAX_IDLE`] or held for [`MAX_HELD`].
//!
//! The lane holds at most `capacity` connections, busy or idle, so the rest of the pool stays
//! free for the other endpoints and the background tasks; requests beyond it wait their turn
//! (first come, first served) for as long as the pool's acquire timeout.

use std::{
    ops::{Deref, DerefMut},
    sync::Mutex,
    time::{Duration, Instant},
};

use sqlx::{pool::PoolConnection, PgConnection, PgPool, Postgres};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Idle longer than this, a connection goes back to the pool (which tests it before it is used
/// again): the server or a proxy may have closed it meanwhile.
pub const MAX_IDLE: Duration = Duration::from_secs(5);
/// Held longer than this in all, a connection goes back to the pool, so that the pool's
/// lifetime and idle limits still apply to it.
pub const MAX_HELD: Duration = Duration::from_secs(60);

pub struct Lane {
    pool: PgPool,
    /// One per connection the lane may hold, busy or idle.
    permits: Semaphore,
    max_idle: Duration,
    inner: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    /// Least recently used first.
    conns: Vec<Held>,
    closed: bool,
}

struct Held {
    conn: PoolConnection<Postgres>,
    taken_at: Instant,
    used_at: Instant,
}

impl Lane {
    /// A lane holding at most `capacity` connections of `pool`.
    pub fn new(pool: PgPool, capacity: usize) -> Lane {
        Lane::with_max_idle(pool, capacity, MAX_IDLE)
    }

    /// As [`Lane::new`], with another idle limit (tests).
    pub fn with_max_idle(pool: PgPool, capacity: usize, max_idle: Duration) -> Lane {
        Lane {
            pool,
            permits: Semaphore::new(capacity.max(1)),
            max_idle,
            inner: Mutex::new(Idle::default()),
        }
    }

    /// The most recently used idle connection, else one from the pool (tested there as usual).
    /// Waits at most the pool's acquire timeout in all.
    pub async fn acquire(&self) -> Result<LaneConn<'_>, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + self.pool.options().get_acquire_timeout();
        let permit = match tokio::time::timeout_at(deadline, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_closed)) => return Err(sqlx::Error::PoolClosed),
            Err(_elapsed) => return Err(sqlx::Error::PoolTimedOut),
        };
        let now = Instant::now();
        let (found, stale) = {
            let mut idle = self.lock();
            match idle.conns.last() {
                // Sorted by last use: when the newest is stale, all are.
                Some(h) if now.duration_since(h.used_at) > self.max_idle => {
                    (None, std::mem::take(&mut idle.conns))
                }
                _ => (idle.conns.pop(), Vec::new()),
            }
        };
        // Dropped outside the lock: each goes back to the pool, which tests it.
        drop(stale);
        let held = match found {
            Some(h) => h,
            None => Held {
                conn: tokio::time::timeout_at(deadline, self.pool.acquire())
                    .await
                    .map_err(|_elapsed| sqlx::Error::PoolTimedOut)??,
                taken_at: now,
                used_at: now,
            },
        };
        Ok(LaneConn {
            lane: self,
            held: Some(held),
            completed: false,
            _permit: permit,
        })
    }

    /// Idle connections held now.
    pub fn idle(&self) -> usize {
        self.lock().conns.len()
    }

    /// Gives every idle connection back to the pool and keeps none from now on; `acquire` then
    /// fails with `PoolClosed`. Called before the pool is closed: `PgPool::close` waits for
    /// checked-out connections.
    pub fn close(&self) {
        self.permits.close();
        let conns = {
            let mut idle = self.lock();
            idle.closed = true;
            std::mem::take(&mut idle.conns)
        };
        drop(conns);
    }

    fn put_back(&self, mut held: Held) {
        let now = Instant::now();
        held.used_at = now;
        let mut idle = self.lock();
        if idle.closed || now.duration_since(held.taken_at) > MAX_HELD {
            drop(idle);
            drop(held);
            return;
        }
        // One stale connection leaves per use, so a lane that shrank from a burst does not keep
        // the extra ones until it runs dry.
        let stale = match idle.conns.first() {
            Some(h) if now.duration_since(h.used_at) > self.max_idle => Some(idle.conns.remove(0)),
            _ => None,
        };
        idle.conns.push(held);
        drop(idle);
        drop(stale);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // Nothing in the critical sections can panic half-way; a poisoned lock is still sound.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection of the lane. Dereferences to the connection (`&mut *conn` is an executor).
/// Dropped without [`LaneConn::release`], it goes back to the pool, never to the lane.
pub struct LaneConn<'a> {
    lane: &'a Lane,
    held: Option<Held>,
    completed: bool,
    /// Released after `held` is dealt with (fields drop after `Drop::drop`).
    _permit: SemaphorePermit<'a>,
}

impl LaneConn<'_> {
    /// Ends the use. `completed`: every statement run on the connection came back, with rows or
    /// with an error PostgreSQL sent about the statement (a constraint, say), so the connection
    /// is ready for the next one and goes back to the lane. Otherwise (a network error, a
    /// server shutting down, a response that could not be decoded) it goes back to the pool,
    /// which tests it.
    pub fn release(mut self, completed: bool) {
        self.completed = completed;
    }

    /// [`LaneConn::release`] after `outcome`, the result of the statements: completed unless the
    /// error says the database is unreachable or the response was not understood. Returns
    /// `outcome`.
    pub fn release_after<T>(self, outcome: Result<T, sqlx::Error>) -> Result<T, sqlx::Error> {
        let completed = match &outcome {
            Ok(_) => true,
            Err(e @ sqlx::Error::Database(_)) => !super::is_unavailable(e),
            Err(_) => false,
        };
        self.release(completed);
        outcome
    }
}

impl Deref for LaneConn<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        // `held` is set when the guard is made and taken only in `Drop::drop`: always `Some` here.
        &self.held.as_ref().expect("held until dropped").conn
    }
}

impl DerefMut for LaneConn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        // As in `deref`.
        &mut self.held.as_mut().expect("held until dropped").conn
    }
}

impl Drop for LaneConn<'_> {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            if self.completed {
                self.lane.put_back(held);
            }
            // Else dropped here: back to the pool, tested there.
        }
    }
}
