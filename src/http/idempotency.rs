//! `Idempotency-Key` on POST: the first response to a key (per API key) is stored and replayed
//! for 24 h (bodies up to the route's own limit); the same key with a different request is 422;
//! a concurrent duplicate is 409 while the first holds its lease (see `db::idempotency::LEASE`).
//! A request whose client leaves still finishes and stores its response.

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{header, request::Parts, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::{
    batch::BatchPermit,
    error::ApiError,
    extract::{body_limit, read_body, Principal},
    AppState,
};
use crate::{db::idempotency, domain::validation::FieldError};

const HEADER: &str = "idempotency-key";
/// Renewal period should `LEASE / 3` not convert (it always does).
const RENEW_FALLBACK: std::time::Duration = std::time::Duration::from_secs(10);
/// Response headers worth replaying.
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

pub async fn idempotency(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match handle(state, req, next).await {
        Ok(res) => res,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: AppState, req: Request, next: Next) -> Result<Response, ApiError> {
    let key = match req.headers().get(HEADER) {
        Some(v) if req.method() == Method::POST => {
            v.to_str().ok().map(str::to_owned).filter(|k| {
                !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic())
            })
        }
        _ => return Ok(next.run(req).await),
    };
    let Some(key) = key else {
        return Err(ApiError::Validation(vec![FieldError {
            field: "Idempotency-Key".into(),
            message: "must be 1 to 255 visible ASCII characters".into(),
        }]));
    };
    let principal = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::Unauthorized("missing bearer API key"))?;

    let limit = body_limit(req.uri().path());
    let (parts, body) = req.into_parts();
    let bytes = read_body(&parts.headers, body, limit).await?;
    let hash = request_hash(&parts, &bytes);

    let now = state.clock.now();
    if let Some(stored) = idempotency::claim(&state.db, principal.key_id, &key, &hash, now).await? {
        if stored.request_hash != hash {
            return Err(ApiError::IdempotencyKeyReused);
        }
        let (Some(status), Some(body)) = (stored.status, stored.body) else {
            return Err(ApiError::IdempotencyInFlight);
        };
        return Ok(replay(status, stored.headers, body));
    }

    // Its own task: when the client goes away axum drops this future, and the request must
    // still either finish and store its response or give the key up, never stop halfway.
    let permit = parts.extensions.get::<BatchPermit>().cloned();
    let req = Request::from_parts(parts, Body::from(bytes));
    let claim = Claim {
        state,
        api_key: principal.key_id,
        key,
        hash,
    };
    tokio::spawn(async move {
        let res = claim.run(next, req).await;
        drop(permit);
        res
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("the request's task failed: {e}")))?
}

/// What a key is bound to: method, URI and body; a reuse with another request is refused.
fn request_hash(parts: &Parts, body: &[u8]) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.to_string());
    hasher.update(b"\n");
    hasher.update(body);
    hasher.finalize().to_vec()
}

/// A key this request holds in flight.
struct Claim {
    state: AppState,
    api_key: uuid::Uuid,
    key: String,
    hash: Vec<u8>,
}

impl Claim {
    /// Runs the request, renewing the lease until it is done, then stores its response (or,
    /// for a 5xx, gives the key up so a retry runs again).
    async fn run(self, next: Next, req: Request) -> Result<Response, ApiError> {
        let run = next.run(req);
        tokio::pin!(run);
        let every = (idempotency::LEASE / 3).to_std().unwrap_or(RENEW_FALLBACK);
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let res = loop {
            tokio::select! {
                res = &mut run => break res,
                _ = renew.tick() => {
                    let now = self.state.clock.now();
                    let renewed = idempotency::renew(&self.state.db, self.api_key, &self.key, &self.hash, now);
                    if let Err(e) = renewed.await {
                        tracing::warn!(error = %e, "could not renew an idempotency lease");
                    }
                }
            }
        };
        let db = &self.state.db;
        if res.status().is_server_error() {
            // Our failure: let a retry run the request again.
            idempotency::release(db, self.api_key, &self.key).await?;
            return Ok(res);
        }
        let (parts, body) = res.into_parts();
        let body = to_bytes(body, usize::MAX)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("reading response body: {e}")))?;
        let mut headers = serde_json::Map::new();
        for name in KEPT_HEADERS {
            if let Some(v) = parts.headers.get(&name).and_then(|v| v.to_str().ok()) {
                headers.insert(name.as_str().into(), v.into());
            }
        }
        let status = parts.status.as_u16();
        let (k, h) = (&self.key, &self.hash);
        idempotency::complete(db, self.api_key, k, h, status, &headers.into(), &body).await?;
        Ok(Response::from_parts(parts, Body::from(body)))
    }
}

fn replay(status: i16, headers: Option<serde_json::Value>, body: Vec<u8>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut res = (status, body).into_response();
    if let Some(serde_json::Value::Object(h)) = headers {
        for (name, value) in h {
            if let (Ok(n), Some(v)) = (
                HeaderName::try_from(name.as_str()),
                value.as_str().and_then(|v| HeaderValue::from_str(v).ok()),
            ) {
                res.headers_mut().insert(n, v);
            }
        }
    }
    res.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    res
}
