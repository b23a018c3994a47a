//! Forms: every state-changing form carries the session's CSRF token (`_csrf`), checked in
//! constant time before anything else is read; its fields arrive as a JSON object of strings
//! so that the same body parsers as the API (`domain::body`) read them and name each bad
//! field, which the page then shows next to its input.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use maud::{html, Markup};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{PageError, Viewer};
use crate::{domain::validation::FieldError, http::AppState, service};

/// Largest form body read (a settings form with a long note is a few KiB).
pub const FORM_LIMIT: usize = 64 * 1024;
pub const CSRF_FIELD: &str = "_csrf";

/// A submitted form of a signed-in person, its CSRF token checked. Empty fields are absent,
/// as an API client would leave them out.
pub struct PageForm {
    pub viewer: Viewer,
    pub fields: Map<String, Value>,
}

impl PageForm {
    /// The trimmed text of a field, if present.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// The fields as a JSON object, for the API's body parsers.
    pub fn body(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

/// Parses `application/x-www-form-urlencoded` into an object of strings; empty values are
/// dropped and the CSRF field is kept out.
pub fn parse_fields(bytes: &[u8]) -> (Map<String, Value>, Option<String>) {
    let mut fields = Map::new();
    let mut csrf = None;
    for (k, v) in form_urlencoded(bytes) {
        if k == CSRF_FIELD {
            csrf = Some(v);
        } else if !v.trim().is_empty() {
            fields.insert(k, Value::String(v.trim().to_string()));
        }
    }
    (fields, csrf)
}

fn form_urlencoded(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
}

/// Whether `given` is the session's token (constant time in the token's contents).
pub fn csrf_matches(viewer: &Viewer, given: Option<&str>) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(viewer.csrf.as_bytes())))
}

impl FromRequest<AppState> for PageForm {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| PageError::BadRequest("the form is larger than 64 KiB".into()))?;
        let (fields, csrf) = parse_fields(&bytes);
        if !csrf_matches(&viewer, csrf.as_deref()) {
            return Err(PageError::Csrf);
        }
        Ok(PageForm { viewer, fields })
    }
}

/// A form read before sign-in (the sign-in forms themselves), with no session to check.
pub struct AnonForm(pub Map<String, Value>, pub Option<String>);

impl<S: Send + Sync> FromRequest<S> for AnonForm {
    type Rejection = PageError;

    async fn from_request(req: Request, _: &S) -> Result<Self, PageError> {
        // Read no more than the limit: a sign-in form is open to anyone.
        let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| PageError::BadRequest("the form is larger than 64 KiB".into()))?;
        let (fields, csrf) = parse_fields(&bytes);
        Ok(AnonForm(fields, csrf))
    }
}

/// Messages of a refused form, by field name; `""` holds one for the whole form.
#[derive(Debug, Default, Clone)]
pub struct Errors(BTreeMap<String, String>);

impl Errors {
    pub fn none() -> Errors {
        Errors::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert(message.into());
    }

    /// Field errors by name; any other refusal (a conflict, a transition not allowed) goes
    /// with the whole form. Server-side failures are not form errors and are passed on.
    pub fn from_service(e: service::Error) -> Result<Errors, PageError> {
        let mut errors = Errors::none();
        match e {
            service::Error::Validation(list) => {
                for FieldError { field, message } in list {
                    errors.add(&field, message);
                }
            }
            service::Error::UnknownCode { field, detail, .. } => errors.add(field, detail),
            e if e.is_server_side() => return Err(PageError::Service(e)),
            e => errors.add("", e.to_string()),
        }
        Ok(errors)
    }

    pub fn from_fields(list: Vec<FieldError>) -> Errors {
        let mut errors = Errors::none();
        for FieldError { field, message } in list {
            errors.add(&field, message);
        }
        errors
    }
}

/// The hidden CSRF input of a form of this session.
pub fn csrf_input(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf); }
}

/// A labelled input with its error (if any) beside it, tied by `aria-describedby`.
pub fn field(id: &str, name: &str, label: &str, input: Markup, errors: &Errors) -> Markup {
    let error_id = format!("{id}-error");
    html! {
        div.field.invalid[errors.get(name).is_some()] {
            label for=(id) { (label) }
            (input)
            @if let Some(message) = errors.get(name) {
                p.field-error id=(error_id) role="alert" { (message) }
            }
        }
    }
}

/// The message that goes with the whole form, if any.
pub fn form_error(errors: &Errors) -> Markup {
    html! {
        @if let Some(message) = errors.get("") {
            div.notice.error role="alert" { p { (message) } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_reads_as_trimmed_strings_without_empty_fields_or_its_csrf_token() {
        let (fields, csrf) =
            parse_fields(b"code=out_of_icp&note=+&_csrf=t0k&next_action=call%20Tue");
        assert_eq!(csrf.as_deref(), Some("t0k"));
        assert_eq!(
            fields.get("code"),
            Some(&Value::String("out_of_icp".into()))
        );
        assert_eq!(
            fields.get("next_action"),
            Some(&Value::String("call Tue".into()))
        );
        assert!(!fields.contains_key("note"));
        assert!(!fields.contains_key(CSRF_FIELD));
    }

    #[test]
    fn a_form_error_of_the_service_lands_on_its_field_and_a_conflict_on_the_form() {
        let e = Errors::from_service(service::Error::field("code", "required")).unwrap();
        assert_eq!(e.get("code"), Some("required"));
        let e = Errors::from_service(service::Error::Conflict {
            code: "x",
            detail: "already accepted".into(),
        })
        .unwrap();
        assert_eq!(e.get(""), Some("already accepted"));
    }
}
