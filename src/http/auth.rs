//! Bearer API-key authentication, with a short per-replica cache so the hot path does not pay
//! a database round trip per request. A revoked key stops working within the cache TTL.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

use super::{error::ApiError, extract::Principal, AppState};
use crate::db::api_keys;

/// Cached lookups: SHA-256 of the token → principal and when it was looked up.
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<Vec<u8>, (Principal, Instant)>>,
}

/// Bounds memory if many distinct valid keys are used; the cache is simply cleared.
const MAX_ENTRIES: usize = 10_000;

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, hash: &[u8]) -> Option<Principal> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, hash: Vec<u8>, p: Principal) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (p, Instant::now()));
    }

    /// Forgets everything (after a key is revoked on this replica).
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let header = req.headers().get(header::AUTHORIZATION).cloned();
    let principal = principal_for(&state, header).await.and_then(|p| {
        if let Some(limiter) = &state.rate_limit {
            limiter
                .check(p.key_id, Instant::now())
                .map_err(|wait| ApiError::RateLimited {
                    retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
                })?;
        }
        Ok(p)
    });
    match principal {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => axum::response::IntoResponse::into_response(e),
    }
}

async fn principal_for(
    state: &AppState,
    header: Option<HeaderValue>,
) -> Result<Principal, ApiError> {
    let header = header.ok_or(ApiError::Unauthorized(
        "missing Authorization: Bearer <api key>",
    ))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized(
            "the Authorization header must be `Bearer <api key>`",
        ))?;
    let hash = api_keys::hash_token(token);
    if let Some(p) = state.keys.get(&hash) {
        return Ok(p);
    }
    let key = api_keys::find_active_by_token(&state.db, token)
        .await?
        .ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
    let principal = Principal {
        key_id: key.id,
        role: key.role(),
        rep: key.rep_id,
    };
    state.keys.put(hash, principal.clone());
    Ok(principal)
}
