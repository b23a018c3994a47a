//! The client's address, and the per-address limit of the routes that carry no API key.
//!
//! The address is the TCP peer's: `X-Forwarded-For` is not trusted, since anyone can send it.

use std::{
    net::{IpAddr, SocketAddr},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    http::Extensions,
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::{error::ApiError, rate_limit::AddressLimiter, AppState};

/// The peer address; `None` when the router is driven without a socket (in-process calls).
pub fn ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
}

/// 429 when `ip`'s bucket in `limiter` is empty; takes a token when `take`.
pub fn limit(
    limiter: Option<&AddressLimiter>,
    ip: Option<IpAddr>,
    take: bool,
) -> Result<(), ApiError> {
    let (Some(limiter), Some(ip)) = (limiter, ip) else {
        return Ok(());
    };
    let now = Instant::now();
    let left = if take {
        limiter.check(ip, now)
    } else {
        limiter.peek(ip, now)
    };
    left.map_err(|wait| ApiError::RateLimited {
        retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
    })
}

/// Middleware of the CRM integrations: rate-limited per client address, as they carry no key.
pub async fn limit_integrations(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    match limit(
        state.integration_limit.as_deref(),
        ip(req.extensions()),
        true,
    ) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}
