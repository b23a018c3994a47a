//! `/app/settings` (revops, admin; API keys and sign-in links admin only): one file per area.
//! Every form is turned into the JSON body the API takes and goes through the same use case
//! (`service::settings`), so a refused form shows the parser's message next to its field and
//! changes nothing; an accepted one redirects back to its page (post, redirect, get).

mod calendars;
mod codes;
mod keys;
mod links;
mod queues;
mod reps;
mod sla;
mod webhooks;

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::{
    form::{field, Errors},
    layout::{self, Nav},
    PageError, Viewer,
};
use crate::{domain::Role, http::AppState, service};

/// Every route under `/app/settings`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings", get(index))
        .merge(codes::router())
        .merge(reps::router())
        .merge(queues::router())
        .merge(sla::router())
        .merge(calendars::router())
        .merge(webhooks::router())
        .merge(keys::router())
        .merge(links::router())
}

/// The areas: path, title, admin only.
const AREAS: &[(&str, &str, bool)] = &[
    ("/app/settings/rejection-codes", "Rejection codes", false),
    ("/app/settings/recycle-reasons", "Recycle reasons", false),
    ("/app/settings/reps", "Reps", false),
    ("/app/settings/queues", "Queues", false),
    ("/app/settings/sla", "SLA policies", false),
    ("/app/settings/calendars", "Calendars", false),
    ("/app/settings/webhooks", "Webhooks", false),
    ("/app/settings/keys", "API keys", true),
    ("/app/settings/links", "Sign-in links", true),
];

/// 403 unless the viewer is revops or admin.
fn revops(viewer: &Viewer) -> Result<(), PageError> {
    viewer.require(&[Role::Revops, Role::Admin])
}

/// 403 unless the viewer is an admin.
fn admin(viewer: &Viewer) -> Result<(), PageError> {
    viewer.require(&[Role::Admin])
}

/// A settings page: the areas the viewer may open, "Saved." after an accepted form, then
/// `content`.
fn page(viewer: &Viewer, title: &str, entered: &Entered, content: Markup) -> Markup {
    let body = html! {
        nav.settings-nav aria-label="Settings" {
            @for (href, label, admin_only) in AREAS {
                @if !*admin_only || viewer.role == Role::Admin {
                    @if *label == title { a href=(href) aria-current="page" { (label) } }
                    @else { a href=(href) { (label) } }
                }
            }
        }
        @if entered.saved {
            div.notice.ok role="status" { p { "Saved." } }
        }
        (content)
    };
    layout::page(Some(viewer), title, Nav::Settings, body)
}

async fn index(viewer: Viewer) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let content = html! {
        p { "What RevOps owns: the codes people decide with, who leads go to, what on time means, where events are sent"
            @if viewer.role == Role::Admin { ", and who may sign in" } "." }
    };
    Ok(page(&viewer, "Settings", &Entered::default(), content))
}

/// What a form's fields held, shown again when it is refused; empty for a fresh form, which
/// follows an accepted one when `saved`.
#[derive(Debug, Default)]
struct Entered {
    fields: Map<String, Value>,
    saved: bool,
}

impl Entered {
    fn of(fields: &Map<String, Value>) -> Entered {
        Entered {
            fields: fields.clone(),
            saved: false,
        }
    }

    /// The entered text of `name`, `""` if none.
    fn get(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or("")
    }

    fn with(mut self, name: &str, value: impl Into<String>) -> Entered {
        self.fields.insert(name.into(), Value::String(value.into()));
        self
    }

    /// Shown after an accepted form (the redirect's `?saved=1`).
    fn saved(mut self, shown: &Shown) -> Entered {
        self.saved = shown.saved.is_some();
        self
    }
}

/// The query of a settings page: which row fills the form, and whether a form was just
/// accepted.
#[derive(Debug, Default, serde::Deserialize)]
struct Shown {
    edit: Option<String>,
    saved: Option<String>,
}

/// The errors of a refused use case, each on its form field: `windows[1].start` goes with
/// `windows`, its path kept in the message.
fn refusal(e: service::Error) -> Result<Errors, PageError> {
    let e = match e {
        service::Error::Validation(list) => service::Error::Validation(
            list.into_iter()
                .map(|mut fe| {
                    if let Some(cut) = fe.field.find(['[', '.']) {
                        fe.message = format!("{}: {}", fe.field, fe.message);
                        fe.field.truncate(cut);
                    }
                    fe
                })
                .collect(),
        ),
        other => other,
    };
    Errors::from_service(e)
}

/// A labelled text input named and identified `name`, holding `value`.
fn text(name: &str, label: &str, value: &str, errors: &Errors) -> Markup {
    let described = errors.get(name).map(|_| format!("{name}-error"));
    let input = html! {
        input id=(name) name=(name) type="text" value=(value) aria-describedby=[described]
            aria-invalid=[errors.get(name).map(|_| "true")];
    };
    field(name, name, label, input, errors)
}

/// A labelled select named and identified `name`; `""` in `options` is "none".
fn select(name: &str, label: &str, options: &[&str], value: &str, errors: &Errors) -> Markup {
    let described = errors.get(name).map(|_| format!("{name}-error"));
    let input = html! {
        select id=(name) name=(name) aria-describedby=[described] {
            @for o in options {
                option value=(o) selected[*o == value] { @if o.is_empty() { "(none)" } @else { (o) } }
            }
        }
    };
    field(name, name, label, input, errors)
}

/// A labelled checkbox named and identified `name`.
fn checkbox(name: &str, label: &str, checked: bool, errors: &Errors) -> Markup {
    let input =
        html! { input id=(name) name=(name) type="checkbox" value="true" checked[checked]; };
    field(name, name, label, input, errors)
}

/// A number typed in a form as the JSON number the API takes; anything else stays text
/// for the parser to refuse with its own message.
fn number(v: &str) -> Value {
    if let Ok(n) = v.parse::<u64>() {
        return Value::from(n);
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::String(v.to_string()),
    }
}

/// A comma- or space-separated list typed in a form, as a JSON array of strings.
fn list(v: &str) -> Value {
    Value::Array(
        v.split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect(),
    )
}

/// The form's fields as the API body: only `names`, each converted by its kind.
fn body(fields: &Map<String, Value>, names: &[(&str, Kind)]) -> Value {
    let mut out = Map::new();
    for (name, kind) in names {
        let v = fields.get(*name).and_then(Value::as_str);
        let converted = match (kind, v) {
            (Kind::Text, Some(v)) => Value::String(v.to_string()),
            (Kind::Number, Some(v)) => number(v),
            (Kind::List, Some(v)) => list(v),
            (Kind::Bool, v) => Value::Bool(v == Some("true")),
            (_, None) => continue,
        };
        out.insert(name.to_string(), converted);
    }
    Value::Object(out)
}

/// How a form field becomes a JSON member.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Number,
    List,
    /// A checkbox: present is `true`, absent `false`.
    Bool,
}

/// 303 to `to` (a path without a query) after an accepted form, which then says "Saved.".
fn done(to: &str) -> Response {
    let to = format!("{to}?saved=1");
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

/// A refused form's page: 422, the same page with the entered values and the errors.
fn refused(markup: Markup) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, markup).into_response()
}

/// How a settings form is answered: saved, back to `page` saying so; refused, the same page
/// again (`render_again`) with each message next to its field. Server-side failures pass on.
async fn saved_or_refused<T, Fut>(
    result: service::Result<T>,
    page: &str,
    render_again: impl FnOnce(Errors) -> Fut,
) -> Result<Response, PageError>
where
    Fut: std::future::Future<Output = Result<Markup, PageError>>,
{
    match result {
        Ok(_) => Ok(done(page)),
        Err(e) => Ok(refused(render_again(refusal(e)?).await?)),
    }
}

/// A time for a table cell.
fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_form_becomes_the_api_body_with_numbers_lists_and_checkboxes_converted() {
        let fields = json!({"capacity": "12", "queues": "a, b", "name": "Sam", "x": "y"});
        let Value::Object(fields) = fields else {
            unreachable!()
        };
        let b = body(
            &fields,
            &[
                ("capacity", Kind::Number),
                ("queues", Kind::List),
                ("name", Kind::Text),
                ("active", Kind::Bool),
                ("email", Kind::Text),
            ],
        );
        assert_eq!(
            b,
            json!({"capacity": 12, "queues": ["a", "b"], "name": "Sam", "active": false})
        );
        assert_eq!(number("abc"), json!("abc"));
    }

    #[test]
    fn a_nested_field_error_lands_on_its_form_field_with_its_path_in_the_message() {
        let e = refusal(service::Error::field("windows[1].start", "must be HH:MM")).unwrap();
        assert_eq!(e.get("windows"), Some("windows[1].start: must be HH:MM"));
    }
}
