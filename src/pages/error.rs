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
    /// A state-changing form without this session's CSRF token.
    #[error("this form is not from this session; reload the page and try again")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
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
            PageError::BadRequest(_) => StatusCode::BAD_REQUEST,
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
            let to = format!("/app/sign-in?next={}", layout::query_escape(next));
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
        (status, layout::page(None, title, layout::Nav::None, body)).into_response()
    }
}
