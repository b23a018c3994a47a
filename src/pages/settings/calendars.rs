//! Calendars: a time zone, weekly working windows and holidays. Windows are typed one per
//! line (`mon 09:00-17:00`) and holidays as dates; the page turns them into the API's JSON.

use axum::{
    extract::{Query, State},
    response::Response,
    routing::get,
    Router,
};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::{list, page, revops, saved_or_refused, text, Entered, Shown};
use crate::{
    db::sla::CalendarRow,
    http::AppState,
    pages::{
        form::{csrf_input, field, form_error, Errors, PageForm},
        PageError, Viewer,
    },
    service::Error,
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new().route("/app/settings/calendars", get(show).post(save))
}

/// `mon 09:00-17:00` as the API's window object; another line stays text for the parser
/// to refuse.
fn window(line: &str) -> Value {
    let parts: Vec<&str> = line.split_whitespace().collect();
    match parts.as_slice() {
        [day, span] => match span.split_once('-') {
            Some((start, end)) => json!({"weekday": day, "start": start, "end": end}),
            None => Value::String(line.to_string()),
        },
        _ => Value::String(line.to_string()),
    }
}

/// The API's calendar body of the form.
fn calendar_body(fields: &Map<String, Value>) -> Value {
    let get = |k: &str| fields.get(k).and_then(Value::as_str);
    let mut out = Map::new();
    for k in ["name", "time_zone"] {
        if let Some(v) = get(k) {
            out.insert(k.into(), Value::String(v.into()));
        }
    }
    let windows: Vec<Value> = get("windows")
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(window)
        .collect();
    out.insert("windows".into(), Value::Array(windows));
    if let Some(h) = get("holidays") {
        out.insert("holidays".into(), list(h));
    }
    Value::Object(out)
}

/// A stored calendar's windows as the form's lines.
fn window_lines(windows: &Value) -> String {
    let mut lines = Vec::new();
    for w in windows.as_array().into_iter().flatten() {
        let s = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        lines.push(format!("{} {}-{}", s("weekday"), s("start"), s("end")));
    }
    lines.join("\n")
}

fn holiday_list(holidays: &Value) -> String {
    let days: Vec<&str> = holidays
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    days.join(", ")
}

fn table(calendars: &[CalendarRow]) -> Markup {
    html! {
        table.settings-table {
            thead { tr { th { "Calendar" } th { "Time zone" } th { "Windows" } th { "Holidays" } th { "" } } }
            tbody {
                @for c in calendars {
                    tr data-calendar=(c.id) {
                        td { (c.name) " " code { (c.id) } }
                        td { (c.time_zone) }
                        td { pre { (window_lines(&c.windows)) } }
                        td { (holiday_list(&c.holidays)) }
                        td { a href=(format!("/app/settings/calendars?edit={}#calendar-form", c.id)) { "Edit " span.visually-hidden { (c.id) } } }
                    }
                }
            }
        }
    }
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let calendars = state.service.calendars().await?;
    let described = errors.get("windows").map(|_| "windows-error");
    let windows = html! {
        textarea id="windows" name="windows" rows="6" aria-describedby=[described] { (entered.get("windows")) }
    };
    let content = html! {
        (table(&calendars))
        h2 id="calendar-form" { "Add or change a calendar" }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/calendars" {
            (csrf_input(viewer))
            (text("id", "Calendar id", entered.get("id"), errors))
            (text("name", "Name", entered.get("name"), errors))
            (text("time_zone", "Time zone (IANA, e.g. Europe/Berlin)", entered.get("time_zone"), errors))
            (field("windows", "windows", "Working windows, one per line (mon 09:00-17:00)", windows, errors))
            (text("holidays", "Holidays (dates, comma-separated: 2026-12-25, 2026-12-26)", entered.get("holidays"), errors))
            button type="submit" { "Save calendar" }
        }
    };
    Ok(page(viewer, "Calendars", entered, content))
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let mut entered = Entered::default();
    if let Some(id) = &q.edit {
        if let Some(c) = state
            .service
            .calendars()
            .await?
            .into_iter()
            .find(|c| &c.id == id)
        {
            entered = entered
                .with("id", &c.id)
                .with("name", &c.name)
                .with("time_zone", &c.time_zone)
                .with("windows", window_lines(&c.windows))
                .with("holidays", holiday_list(&c.holidays));
        }
    }
    render(&state, &viewer, &entered.saved(&q), &Errors::none()).await
}

async fn save(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let result = match form.text("id") {
        None => Err(Error::field("id", "enter the calendar's id")),
        Some(id) => {
            state
                .service
                .put_calendar(id, &calendar_body(&form.fields))
                .await
        }
    };
    let (state, form) = (&state, &form);
    saved_or_refused(result, "/app/settings/calendars", |errors| async move {
        render(state, &form.viewer, &Entered::of(&form.fields), &errors).await
    })
    .await
}
