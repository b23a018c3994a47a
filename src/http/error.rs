//! The one error type at the HTTP edge, rendered as RFC 9457 problem+json with a stable `code`.
//! Internal errors are logged with their cause and answered with a bare 500. The use cases
//! fail with `service::Error` (see `src/service/mod.rs` for which error type belongs where);
//! it converts into this one variant for variant.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    domain::{validation::FieldError, Action, LeadState},
    service,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// A rejection code or recycle reason that does not exist or is retired.
    #[error("{detail}")]
    UnknownCode {
        code: &'static str,
        field: &'static str,
        detail: String,
    },
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A signed source's `Salgate-Signature` is missing, malformed, wrong, stale or replayed.
    #[error("{detail}")]
    BadSignature {
        code: &'static str,
        detail: &'static str,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    #[error("cannot {action} a lead that is {from}")]
    InvalidTransition {
        from: LeadState,
        action: Action,
        allowed: &'static [Action],
    },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the lead is at version {current}, not the one in If-Match")]
    StaleVersion { current: i32 },
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being handled")]
    IdempotencyInFlight,
    #[error("too many requests from this API key or address; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // One mapping of database failures (an outage is 503, anything else 500).
        service::Error::from(e).into()
    }
}

/// A use case's refusal or failure, with the status and code the contract gives it.
impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> Self {
        use service::Error as E;
        match e {
            E::Validation(errors) => ApiError::Validation(errors),
            E::UnknownCode {
                code,
                field,
                detail,
            } => ApiError::UnknownCode {
                code,
                field,
                detail,
            },
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::NotFound(m) => ApiError::NotFound(m),
            E::InvalidTransition {
                from,
                action,
                allowed,
            } => ApiError::InvalidTransition {
                from,
                action,
                allowed,
            },
            E::Conflict { code, detail } => ApiError::Conflict { code, detail },
            E::StaleVersion { current } => ApiError::StaleVersion { current },
            E::Unavailable(m) => ApiError::Unavailable(m),
            E::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:salgate:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation_failed`, `invalid_transition`.
    pub code: &'static str,
    /// Every bad field (validation problems).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// The lead's state (invalid transitions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<LeadState>,
    /// What the lead's state allows (invalid transitions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_transitions: Option<Vec<Action>>,
    /// The lead's current version (stale If-Match).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Invalid request",
            ),
            UnknownCode { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code, "Unknown code"),
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json", "Malformed JSON"),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
            ),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            BadSignature { code, .. } => (StatusCode::UNAUTHORIZED, code, "Bad signature"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            ),
            InvalidTransition { .. } => (
                StatusCode::CONFLICT,
                "invalid_transition",
                "Invalid transition",
            ),
            Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            StaleVersion { .. } => (
                StatusCode::PRECONDITION_FAILED,
                "stale_version",
                "Stale version",
            ),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency key reused",
            ),
            IdempotencyInFlight => (
                StatusCode::CONFLICT,
                "idempotency_in_flight",
                "Request in flight",
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.parts().0
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let mut p = Problem {
            kind: format!("urn:salgate:problem:{code}"),
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            code,
            errors: None,
            current_state: None,
            allowed_transitions: None,
            current_version: None,
        };
        match self {
            ApiError::Validation(errors) => {
                p.detail = format!(
                    "invalid fields: {}",
                    errors
                        .iter()
                        .map(|e| e.field.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                p.errors = Some(errors.clone());
            }
            ApiError::UnknownCode { field, detail, .. } => {
                p.errors = Some(vec![FieldError {
                    field: (*field).into(),
                    message: detail.clone(),
                }])
            }
            ApiError::InvalidTransition { from, allowed, .. } => {
                p.current_state = Some(*from);
                p.allowed_transitions = Some(allowed.to_vec());
            }
            ApiError::StaleVersion { current } => p.current_version = Some(*current),
            _ => {}
        }
        p
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let problem = self.problem();
        let status = self.status();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut res = (status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::RateLimited { retry_after } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            ApiError::Unavailable(_) => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
