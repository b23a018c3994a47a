//! Extractors whose rejections are `ApiError`s, so every failure is problem+json.

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap},
};
use http_body_util::BodyExt;
use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;
use crate::domain::{Actor, Role};

/// Largest accepted request body (docs/api.md §5).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body as an untyped value; domain parsers turn it into types and name every bad
/// field. An empty body reads as `{}` so optional-body endpoints need no Content-Type. Bodies
/// over `LIMIT` bytes are refused with 413.
pub struct JsonBody<const LIMIT: usize = BODY_LIMIT>(pub Value);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for JsonBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawJsonBody(value, _) = RawJsonBody::<LIMIT>::from_request(req, state).await?;
        Ok(JsonBody(value))
    }
}

/// [`JsonBody`] with the raw bytes it was read from (for signatures over the body).
pub struct RawJsonBody<const LIMIT: usize = BODY_LIMIT>(pub Value, pub Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for RawJsonBody<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let JsonBytes(bytes) = JsonBytes::<LIMIT>::from_request(req, state).await?;
        match serde_json::from_slice(&bytes) {
            Ok(v) => Ok(RawJsonBody(v, bytes)),
            Err(e) => Err(ApiError::MalformedJson(e.to_string())),
        }
    }
}

/// The bytes of a JSON body, not parsed (for handlers that parse big bodies piece by piece):
/// 415 unless the Content-Type is JSON, 413 over `LIMIT`; an empty body reads as `{}`.
pub struct JsonBytes<const LIMIT: usize = BODY_LIMIT>(pub Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for JsonBytes<LIMIT> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let is_json = json_content_type(req.headers());
        let (parts, body) = req.into_parts();
        let bytes = read_body(&parts.headers, body, LIMIT).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBytes(Bytes::from_static(b"{}")));
        }
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        Ok(JsonBytes(bytes))
    }
}

/// The largest body a route accepts (docs/api.md §5: 1 MiB, the batch 16 MiB); the idempotency
/// middleware reads bodies before the handler does, so it needs the same limit.
pub fn body_limit(path: &str) -> usize {
    if path == super::batch::PATH {
        super::batch::BATCH_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// Reads the whole body into one buffer sized from Content-Length (capped at `limit`), so a
/// big body costs its size once, not once per chunk plus the copy that joins them; a body
/// already in one piece (as the idempotency middleware passes it on) is not copied at all.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let (mut first, mut buf, mut total): (Option<Bytes>, Vec<u8>, usize) = (None, Vec::new(), 0);
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        if first.is_none() && buf.is_empty() {
            first = Some(data);
            continue;
        }
        if let Some(f) = first.take() {
            buf.reserve_exact(declared.unwrap_or(0).max(total));
            buf.extend_from_slice(&f);
        }
        buf.extend_from_slice(&data);
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The authenticated API key, placed in the request by the auth middleware.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: Uuid,
    pub role: Role,
    /// The rep of an `sdr` key.
    pub rep: Option<String>,
}

impl Principal {
    /// 403 unless the key has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this endpoint needs a key with role {}; this key is {}",
                names.join(" or "),
                self.role
            )))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            role: self.role,
            rep: self.rep.clone(),
        }
    }

    /// How the key appears in history: `key:<id>`.
    pub fn label(&self) -> String {
        format!("key:{}", self.key_id)
    }

    /// The key as the use cases see their caller.
    pub fn caller(&self) -> crate::service::Caller {
        crate::service::Caller {
            actor: self.actor(),
            label: self.label(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ApiError::Unauthorized("missing bearer API key"))
    }
}
