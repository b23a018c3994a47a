//! What a replica remembers of API keys: tokens that authenticated (for the cache TTL) and
//! tokens found unknown (for [`super::NEGATIVE_TTL`]), both keyed by the token's SHA-256.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use crate::http::extract::Principal;

pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<Vec<u8>, (Principal, Instant)>>,
    unknown: RwLock<HashMap<Vec<u8>, Instant>>,
}

/// Bounds memory if many distinct tokens are used; a full map is simply cleared.
const MAX_ENTRIES: usize = 10_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
            unknown: RwLock::new(HashMap::new()),
        }
    }

    pub fn get(&self, hash: &[u8]) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(p, _)| p.clone())
    }

    pub fn put(&self, hash: Vec<u8>, p: Principal) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (p, Instant::now()));
    }

    /// Whether this token was found unknown within the negative TTL.
    pub fn is_unknown(&self, hash: &[u8]) -> bool {
        let unknown = self.unknown.read().unwrap_or_else(|e| e.into_inner());
        unknown
            .get(hash)
            .is_some_and(|at| at.elapsed() < super::NEGATIVE_TTL)
    }

    pub fn put_unknown(&self, hash: Vec<u8>) {
        let mut unknown = self.unknown.write().unwrap_or_else(|e| e.into_inner());
        if unknown.len() >= MAX_ENTRIES {
            unknown.retain(|_, at| at.elapsed() < super::NEGATIVE_TTL);
            if unknown.len() >= MAX_ENTRIES {
                unknown.clear();
            }
        }
        unknown.insert(hash, Instant::now());
    }

    /// Forgets every key that authenticated (a key was revoked, here or on another replica).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
