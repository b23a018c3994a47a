//! What a page handler can fail with, rendered as an HTML page (or a redirect to sign-in).

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use maud::html;

use super::layout;
use crate::service;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No live session: go to the sign-in page, then back to `next`.
    #[error("sign in first")]
    SignIn { next: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(&'static str),
    /// A page's path with a method it does not take (a GET of a form's target).
    #[error("this address takes a form, not a visit; go back and use the form")]
    MethodNotAllowed,
    /// A state-changing form without this session's CSRF token.
    #[error("this form is not from this session; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    /// Too many failed sign-ins from this address (the limit of failed API authentication).
    #[error("too many failed sign-ins from your address; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error(transparent)]
    Service(#[from] service::Error),
}

impl PageError {
    fn status(&self) -> StatusCode {
        use service::Error as S;
        match self {
            PageError::SignIn { .. } => StatusCode::SEE_OTHER,
            PageError::Forbidden(_) | PageError::Csrf => StatusCode::FORBIDDEN,
            PageError::NotFound(_) => StatusCode::NOT_FOUND,
            PageError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
            PageError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            PageError::Service(e) => match e {
                S::Validation(_) | S::UnknownCode { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                S::Forbidden(_) => StatusCode::FORBIDDEN,
                S::NotFound(_) => StatusCode::NOT_FOUND,
                S::InvalidTransition { .. } | S::Conflict { .. } | S::StaleVersion { .. } => {
                    StatusCode::CONFLICT
                }
                S::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                S::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let PageError::SignIn { next } = &self {
            let to = format!("/app/login?next={}", layout::query_escape(next));
            return (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
        }
        let status = self.status();
        let message = match &self {
            PageError::Service(service::Error::Internal(e)) => {
                tracing::error!(error = ?e, "page failed");
                "Something went wrong on our side; it has been logged.".to_string()
            }
            other => other.to_string(),
        };
        let body = html! {
            div.notice.error role="alert" { p { (message) } }
            p { a href="/app" { "Back to the inbox" } }
        };
        let title = status.canonical_reason().unwrap_or("Error");
        let mut res = (status, layout::page(None, title, layout::Nav::None, body)).into_response();
        if let PageError::RateLimited { retry_after } = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
        }
        res
    }
}
