//! Signing in (with a one-time link or an API key) and out.
//!
//! A link (`/app/login/<token>`) opens a page that asks to confirm, and only the confirming POST uses it: link
//! previews (chat, mail scanners) fetch with GET and must not spend it. The sign-in forms
//! have no session yet, so their CSRF token is a random cookie the form repeats.
//!
//! Failed sign-ins (a wrong key, a spent or unknown link) are limited per client address with
//! the same bucket as failed API authentication: guessing costs as much here as there.

use axum::{
    extract::{Path, Query, State},
    http::{header, Extensions, HeaderMap, StatusCode},
    response::{AppendHeaders, IntoResponse, Response},
    routing::{get, post},
    Router,
};
use maud::{html, Markup};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    form::{field, form_error, AnonForm, Errors, PageForm, CSRF_FIELD},
    layout::{self, Nav},
    session::{cookie, safe_next, set_cookie, COOKIE},
    PageError,
};
use crate::{
    db::sessions::{generate_token, is_well_formed},
    http::{client, error::ApiError, AppState},
    service::people::SESSION_TTL,
};

const LOGIN_COOKIE: &str = "salgate_login";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/login", get(sign_in_page).post(sign_in_with_key))
        .route("/app/login/{token}", get(link_page).post(sign_in_with_link))
        .route("/app/sign-out", post(sign_out))
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

fn key_form(login_csrf: &str, next: &str, errors: &Errors) -> Markup {
    let input = html! {
        input id="api_key" name="api_key" type="password" autocomplete="off" required
            aria-describedby=[errors.get("api_key").map(|_| "api_key-error")];
    };
    html! {
        p { "Open the sign-in link an admin gave you, or sign in with an API key of role sdr, revops or admin." }
        (form_error(errors))
        form method="post" action="/app/login" {
            input type="hidden" name=(CSRF_FIELD) value=(login_csrf);
            input type="hidden" name="next" value=(next);
            (field("api_key", "api_key", "API key", input, errors))
            button type="submit" { "Sign in" }
        }
    }
}

fn with_login_cookie(state: &AppState, status: StatusCode, token: &str, body: Markup) -> Response {
    let c = set_cookie(LOGIN_COOKIE, token, 3600, state.pages.secure_cookies);
    (
        status,
        [(header::SET_COOKIE, c)],
        layout::page(None, "Sign in", Nav::None, body),
    )
        .into_response()
}

/// The login CSRF token: the one this browser already holds, so that two sign-in tabs (or
/// the link page and the key page) do not refuse each other; else a new one.
fn login_token(headers: &HeaderMap) -> String {
    match cookie(headers, LOGIN_COOKIE) {
        Some(c) if is_well_formed(c, "") => c.to_string(),
        _ => generate_token(""),
    }
}

/// Whether `ip` may still try (`take`: a failed attempt spends one of its tries).
fn attempts_left(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    take: bool,
) -> Result<(), PageError> {
    client::limit(state.unauthenticated_limit.as_deref(), ip, take).map_err(|e| match e {
        ApiError::RateLimited { retry_after } => PageError::RateLimited { retry_after },
        _ => PageError::RateLimited { retry_after: 1 },
    })
}

async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let token = login_token(&headers);
    let next = safe_next(q.next.as_deref());
    let body = key_form(&token, &next, &Errors::none());
    with_login_cookie(&state, StatusCode::OK, &token, body)
}

/// The session cookie, and a redirect to where the person was going.
fn signed_in(state: &AppState, token: &str, next: &str) -> Response {
    let c = set_cookie(
        COOKIE,
        token,
        SESSION_TTL.num_seconds(),
        state.pages.secure_cookies,
    );
    let clear = set_cookie(LOGIN_COOKIE, "", 0, state.pages.secure_cookies);
    (
        StatusCode::SEE_OTHER,
        // Two cookies: `AppendHeaders`, since an array of headers would keep only the last.
        AppendHeaders([(header::SET_COOKIE, c), (header::SET_COOKIE, clear)]),
        [(header::LOCATION, next.to_string())],
    )
        .into_response()
}

fn login_csrf_ok(headers: &HeaderMap, given: Option<&str>) -> bool {
    match (cookie(headers, LOGIN_COOKIE), given) {
        (Some(c), Some(g)) if !c.is_empty() => bool::from(c.as_bytes().ct_eq(g.as_bytes())),
        _ => false,
    }
}

async fn sign_in_with_key(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    AnonForm(fields, csrf): AnonForm,
) -> Result<Response, PageError> {
    if !login_csrf_ok(&headers, csrf.as_deref()) {
        return Err(PageError::Csrf);
    }
    let ip = client::ip(&extensions);
    // An address out of tries gets no query, whatever its key.
    attempts_left(&state, ip, false)?;
    let next = safe_next(fields.get("next").and_then(|v| v.as_str()));
    let key = fields.get("api_key").and_then(|v| v.as_str()).unwrap_or("");
    let errors = if key.is_empty() {
        let mut e = Errors::none();
        e.add("api_key", "enter an API key");
        e
    } else {
        match state.service.sign_in_with_key(key).await {
            Ok((_, token)) => return Ok(signed_in(&state, &token, &next)),
            Err(e) => {
                let errors = Errors::from_service(e)?;
                attempts_left(&state, ip, true)?;
                errors
            }
        }
    };
    let token = login_token(&headers);
    let body = key_form(&token, &next, &errors);
    Ok(with_login_cookie(
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        &token,
        body,
    ))
}

fn link_gone() -> Markup {
    html! {
        div.notice.error role="alert" {
            p { "This sign-in link was already used, has expired, or is not one of ours. Ask an admin for a new one." }
        }
        p { a href="/app/login" { "Sign in with an API key instead" } }
    }
}

async fn link_page(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let ip = client::ip(&extensions);
    attempts_left(&state, ip, false)?;
    let Some(link) = state.service.usable_link(&token).await? else {
        attempts_left(&state, ip, true)?;
        let page = layout::page(None, "Sign in", Nav::None, link_gone());
        return Ok((StatusCode::NOT_FOUND, page).into_response());
    };
    let who = match &link.rep_id {
        Some(rep) => format!("{rep} ({})", link.role),
        None => link.role.to_string(),
    };
    let login = login_token(&headers);
    let body = html! {
        p { "This link signs you in as " strong { (who) } ", once." }
        form.sign-in-link method="post" action=(format!("/app/login/{token}")) {
            input type="hidden" name=(CSRF_FIELD) value=(login);
            button type="submit" autofocus { "Sign in as " (who) }
        }
    };
    Ok(with_login_cookie(&state, StatusCode::OK, &login, body))
}

async fn sign_in_with_link(
    State(state): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    Path(token): Path<String>,
    AnonForm(_, csrf): AnonForm,
) -> Result<Response, PageError> {
    if !login_csrf_ok(&headers, csrf.as_deref()) {
        return Err(PageError::Csrf);
    }
    let ip = client::ip(&extensions);
    attempts_left(&state, ip, false)?;
    match state.service.sign_in_with_link(&token).await? {
        Some((_, session_token)) => Ok(signed_in(&state, &session_token, "/app")),
        None => {
            attempts_left(&state, ip, true)?;
            let page = layout::page(None, "Sign in", Nav::None, link_gone());
            Ok((StatusCode::GONE, page).into_response())
        }
    }
}

async fn sign_out(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    state.service.sign_out(form.viewer.session_id).await?;
    let clear = set_cookie(COOKIE, "", 0, state.pages.secure_cookies);
    Ok((
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, clear)],
        [(header::LOCATION, "/app/login")],
    )
        .into_response())
}
