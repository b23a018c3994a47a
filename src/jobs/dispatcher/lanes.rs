//! The lanes running on one replica, and how many POSTs each may have in flight: a lane probes
//! with [`PROBE`] until an attempt succeeds, and again after each failure (a receiver down or
//! never answering); the others split the rest evenly. So a dead receiver costs the healthy
//! ones two slots from the start, a healthy lane gets its share after one round trip, and a
//! slow but answering receiver still gets no more than its fair share.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

/// POSTs in flight to a subscription not known to answer (no attempt yet, or the last failed).
pub const PROBE: usize = 2;

#[derive(Default)]
pub struct Lanes(Mutex<HashMap<Uuid, bool>>);

impl Lanes {
    /// Registers a lane, probing, until the guard is dropped.
    pub fn join(self: &Arc<Self>, sub: Uuid) -> Membership {
        self.with(|m| m.insert(sub, true));
        Membership {
            lanes: self.clone(),
            sub,
        }
    }

    /// How many POSTs `sub` may have in flight out of `concurrency`.
    pub fn target(&self, sub: Uuid, concurrency: usize) -> usize {
        self.with(|m| {
            let failing = m.values().filter(|f| **f).count();
            let healthy = m.len() - failing;
            if m.get(&sub).copied().unwrap_or(false) {
                PROBE.min(concurrency)
            } else {
                (concurrency.saturating_sub(PROBE * failing) / healthy.max(1)).max(1)
            }
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Uuid, bool>) -> T) -> T {
        // The map stays consistent whatever panicked while holding it.
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut m)
    }
}

/// A lane's registration; dropping it (the lane ended) removes the lane.
pub struct Membership {
    lanes: Arc<Lanes>,
    sub: Uuid,
}

impl Membership {
    /// After each attempt: probe on after a failure, take the share after a success.
    pub fn set_failing(&self, failing: bool) {
        self.lanes.with(|m| m.insert(self.sub, failing));
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.lanes.with(|m| m.remove(&self.sub));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_lane_probes_and_the_others_share_the_rest() {
        let lanes = Arc::new(Lanes::default());
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let ga = lanes.join(a);
        assert_eq!(lanes.target(a, 32), PROBE, "a new lane probes");
        ga.set_failing(false);
        assert_eq!(lanes.target(a, 32), 32);
        let gb = lanes.join(b);
        assert_eq!((lanes.target(a, 32), lanes.target(b, 32)), (30, PROBE));
        gb.set_failing(false);
        assert_eq!((lanes.target(a, 32), lanes.target(b, 32)), (16, 16));
        gb.set_failing(true);
        assert_eq!((lanes.target(a, 32), lanes.target(b, 32)), (30, PROBE));
        let gc = lanes.join(c);
        gc.set_failing(false);
        assert_eq!(lanes.target(c, 32), 15);
        gb.set_failing(false);
        assert_eq!(lanes.target(b, 32), 10);
        drop(gb);
        assert_eq!(lanes.target(a, 32), 16);
        assert_eq!(lanes.target(a, 1), 1);
    }
}
