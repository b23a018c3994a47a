//! Who is looking at a page: the session of the `salgate_session` cookie (HttpOnly,
//! SameSite=Lax, Secure when the public URL is https), looked up in PostgreSQL so that any
//! replica serves it.

use axum::{
    extract::{FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use uuid::Uuid;

use super::PageError;
use crate::{
    db::sessions::Session,
    domain::Role,
    http::AppState,
    service::{people, Caller},
};

pub const COOKIE: &str = "salgate_session";

/// The signed-in person of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub session_id: Uuid,
    pub role: Role,
    /// The rep of an sdr.
    pub rep: Option<String>,
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
    /// The use cases' view of this person (same rules as an API key of the role).
    pub caller: Caller,
}

impl Viewer {
    fn from_session(session: &Session) -> Viewer {
        Viewer {
            session_id: session.id,
            role: session.role,
            rep: session.rep_id.clone(),
            csrf: session.csrf_token.clone(),
            caller: people::caller(session),
        }
    }

    /// "rep-1 (sdr)", "revops".
    pub fn describe(&self) -> String {
        match &self.rep {
            Some(rep) => format!("{rep} ({})", self.role),
            None => self.role.to_string(),
        }
    }

    /// Whether this person may use the RevOps pages (dashboard, settings).
    pub fn is_revops(&self) -> bool {
        matches!(self.role, Role::Revops | Role::Admin)
    }

    /// 403 unless the role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), PageError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(PageError::Forbidden(format!(
                "this page is for {}; you are signed in as {}",
                names.join(" or "),
                self.role
            )))
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for `/app`; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let v =
        format!("{name}={value}; Path=/app; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    // Tokens and names are URL-safe base64 and ASCII words, always a valid header value.
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        if let Some(viewer) = parts.extensions.get::<Viewer>() {
            return Ok(viewer.clone());
        }
        // Back to the page after sign-in; a form's target is no page to return to (its GET
        // is 405), so a refused POST goes back to the inbox.
        let sign_in = || PageError::SignIn {
            next: match parts.method {
                axum::http::Method::GET => {
                    safe_next(parts.uri.path_and_query().map(|p| p.as_str()))
                }
                _ => "/app".into(),
            },
        };
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(sign_in());
        };
        let Some(session) = state.service.session(token).await? else {
            return Err(sign_in());
        };
        let viewer = Viewer::from_session(&session);
        parts.extensions.insert(viewer.clone());
        Ok(viewer)
    }
}

/// Where a sign-in may send the person back to: a path under `/app` only (never another
/// site), in visible ASCII so that it is always a valid `Location` (a form field can hold a
/// line break or anything else).
pub fn safe_next(next: Option<&str>) -> String {
    let under_app = |n: &str| {
        n == "/app" || n.starts_with("/app/") || n.starts_with("/app?") || n.starts_with("/app#")
    };
    match next {
        Some(n) if under_app(n) && !n.contains('\\') && n.bytes().all(|b| b.is_ascii_graphic()) => {
            n.to_string()
        }
        _ => "/app".to_string(),
    }
}

/// htmx requests (a poll, a fragment) that find no session: a redirect would be followed by
/// the browser and the sign-in page swapped into a corner of the page. htmx is told to go to
/// the sign-in page instead (`HX-Redirect`), and back to the page it is on
/// (`HX-Current-URL`), not to the fragment.
pub async fn htmx_sign_in(req: Request, next: Next) -> Response {
    let htmx = req.headers().contains_key("hx-request");
    let current = req
        .headers()
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .map(path_of)
        .map(|p| safe_next(Some(&p)));
    let res = next.run(req).await;
    let to_sign_in = res
        .headers()
        .get(header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| l.starts_with("/app/login"));
    if !htmx || res.status() != StatusCode::SEE_OTHER || !to_sign_in {
        return res;
    }
    let back = current.unwrap_or_else(|| "/app".into());
    let to = format!("/app/login?next={}", super::layout::query_escape(&back));
    match HeaderValue::from_str(&to) {
        Ok(v) => (StatusCode::OK, [("hx-redirect", v)]).into_response(),
        Err(_) => res,
    }
}

/// The path and query of an absolute URL (`http://host/app?x` → `/app?x`).
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => rest[i..].to_string(),
        None => "/".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others_and_a_prefix_of_its_name_is_not_it() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; salgate_session_x=no".parse().unwrap());
        h.append(
            header::COOKIE,
            "salgate_session=ss_abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("ss_abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn sign_in_sends_back_only_to_paths_of_the_app() {
        assert_eq!(safe_next(Some("/app/leads/1")), "/app/leads/1");
        assert_eq!(safe_next(Some("https://evil.example/app")), "/app");
        assert_eq!(safe_next(Some("//evil.example")), "/app");
        assert_eq!(safe_next(Some("/v1/leads")), "/app");
        assert_eq!(safe_next(Some("/app.evil.example")), "/app");
        assert_eq!(safe_next(Some("/app/\r\nSet-Cookie: x=1")), "/app");
        assert_eq!(safe_next(Some("/app/\\evil.example")), "/app");
        assert_eq!(safe_next(Some("/app?tab=2")), "/app?tab=2");
        assert_eq!(safe_next(None), "/app");
    }

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_only_when_asked() {
        let c = set_cookie(COOKIE, "ss_x", 60, false);
        assert_eq!(
            c.to_str().unwrap(),
            "salgate_session=ss_x; Path=/app; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert!(set_cookie(COOKIE, "ss_x", 60, true)
            .to_str()
            .unwrap()
            .ends_with("; Secure"));
    }
}
