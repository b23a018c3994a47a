//! Bearer API-key authentication, with a short per-replica cache so the hot path does not pay
//! a database round trip per request. A revoked key is dropped from every replica's cache by
//! a notice (`jobs::key_listener`); the TTL bounds it should a notice be missed.
//!
//! Requests that fail cost no query when they can be told apart without one: a token that is
//! not shaped like ours, or one found unknown in the last few seconds. Failures are also
//! limited per client address, checked before any query.

use std::time::{Duration, Instant};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue},
    middleware::Next,
    response::Response,
};

use super::{client, error::ApiError, extract::Principal, AppState};
use crate::db::api_keys;

mod cache;
pub use cache::KeyCache;

/// How long a token found unknown is answered 401 without asking the database again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(5);

pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let header = req.headers().get(header::AUTHORIZATION).cloned();
    let ip = client::ip(req.extensions());
    let principal = principal_for(&state, header, ip).await.and_then(|p| {
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
    ip: Option<std::net::IpAddr>,
) -> Result<Principal, ApiError> {
    let failed = |e: ApiError| {
        // A failure takes a token of the address; with none left it is 429 instead of 401.
        client::limit(state.unauthenticated_limit.as_deref(), ip, true).and(Err(e))
    };
    let token = match bearer_token(header.as_ref()) {
        Ok(t) => t,
        Err(e) => return failed(e),
    };
    let hash = api_keys::hash_token(token);
    if let Some(p) = state.keys.get(&hash) {
        return Ok(p);
    }
    if state.keys.is_unknown(&hash) {
        return failed(ApiError::Unauthorized("unknown or revoked API key"));
    }
    // An address out of attempts gets no query, whatever its token.
    client::limit(state.unauthenticated_limit.as_deref(), ip, false)?;
    let Some(key) = api_keys::find_active_by_token(&state.db, token).await? else {
        state.keys.put_unknown(hash);
        return failed(ApiError::Unauthorized("unknown or revoked API key"));
    };
    let principal = Principal {
        key_id: key.id,
        role: key.role,
        rep: key.rep_id,
    };
    state.keys.put(hash, principal.clone());
    Ok(principal)
}

/// The token of `Authorization: Bearer <token>`, if it has the shape of one we issue.
fn bearer_token(header: Option<&HeaderValue>) -> Result<&str, ApiError> {
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
    if api_keys::is_well_formed(token) {
        Ok(token)
    } else {
        Err(ApiError::Unauthorized("unknown or revoked API key"))
    }
}
