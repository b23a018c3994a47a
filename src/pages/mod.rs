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
mod inbox;
pub mod layout;
mod security;
pub mod session;
mod settings;
mod sign_in;

use axum::{middleware, routing::any, Router};

use std::net::SocketAddr;

use crate::{config::Settings, http::AppState};
pub use error::PageError;
pub use session::Viewer;

/// How the pages hand out cookies and links (from the settings).
pub struct PageSettings {
    /// Cookies get `Secure`: `SALGATE_PUBLIC_URL` is https.
    pub secure_cookies: bool,
    /// What sign-in links start with: `SALGATE_PUBLIC_URL`, else the address served on.
    pub link_base: String,
}

impl PageSettings {
    /// `bound`: the address the listener got (port 0 in tests), when known.
    pub fn new(settings: &Settings, bound: Option<SocketAddr>) -> PageSettings {
        PageSettings {
            secure_cookies: settings
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
            link_base: link_base(settings, bound),
        }
    }
}

/// What sign-in links start with: the public URL when set, else the address served on (a
/// wildcard address read as the loopback one, which a browser on this machine can open).
pub fn link_base(settings: &Settings, bound: Option<SocketAddr>) -> String {
    if let Some(url) = &settings.public_url {
        return url.clone();
    }
    let mut addr = bound.unwrap_or(settings.listen);
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

/// Every route under `/app`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(sign_in::router())
        .merge(settings::router())
        .merge(assets::router())
        .merge(dashboard::router())
        .merge(inbox::router())
        // Any other path under /app is a page that does not exist: an HTML 404 with the
        // pages' headers, not the API's problem+json. Routes of the pages take precedence.
        .route("/app/", any(not_found))
        .route("/app/{*rest}", any(not_found))
        // Set here, before the layer, so that the API's 405 (problem+json, without these
        // headers) set on the whole router later does not replace it.
        .method_not_allowed_fallback(|| async { PageError::MethodNotAllowed })
        .layer(middleware::from_fn(session::htmx_sign_in))
        .layer(middleware::from_fn_with_state(state, security::headers))
}

async fn not_found() -> PageError {
    PageError::NotFound("there is no such page")
}
