//! The people's side: server-rendered pages under `/app` (docs/pages.md). Handlers here read
//! a form or a path, call the same use cases as the API (`src/service`), and render HTML with
//! maud; htmx (vendored, `assets.rs`) makes forms smoother but every action is a plain form.
//!
//! Which error type belongs where: handlers return [`PageError`] (an HTML page or a redirect
//! to sign-in, never problem+json); a refused form is not an error but the same page again,
//! with each message next to its field (`form::Errors`).

pub mod assets;
mod error;
pub mod form;
mod inbox;
pub mod layout;
mod security;
pub mod session;
mod sign_in;

use axum::{middleware, Router};

use crate::http::AppState;
pub use error::PageError;
pub use session::Viewer;

/// Every route under `/app`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(assets::router())
        .merge(inbox::router())
        .layer(middleware::from_fn_with_state(state, security::headers))
}
