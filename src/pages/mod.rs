//! The people's side: server-rendered pages under `/app` (docs/pages.md). Handlers here read
//! a form or a path, call the same use cases as the API (`src/service`), and render HTML with
//! maud; htmx (vendored, `assets.rs`) makes forms smoother but every action is a plain form.
//!
//! Which error type belongs where: handlers return [`PageError`] (an HTML page or a redirect
//! to sign-in, never problem+json); a refused form is not an error but the same page again,
//! with each message next to its field (`form::Errors`).

pub mod assets;
mod dashboard;
mod error;
pub mod form;
pub mod layout;
mod security;
pub mod session;
mod settings;
mod sign_in;

use axum::{middleware, routing::get, Router};

use crate::http::AppState;
pub use error::PageError;
pub use session::Viewer;

/// Every route under `/app`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(settings::router())
        .merge(assets::router())
        .merge(dashboard::router())
        .route("/app", get(home))
        .layer(middleware::from_fn_with_state(state, security::headers))
}

/// Placeholder until the inbox lands: who is signed in.
async fn home(viewer: Viewer) -> maud::Markup {
    layout::page(
        Some(&viewer),
        "Inbox",
        layout::Nav::Inbox,
        maud::html! { p { "Signed in as " (viewer.describe()) "." } },
    )
}
