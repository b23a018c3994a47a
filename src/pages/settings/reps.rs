//! Reps: who leads go to, their capacity, until when they are away, whether they are active,
//! and their queues. One form adds a rep or replaces one (`?edit=<id>` fills it in).

use axum::{
    extract::{Query, State},
    response::Response,
    routing::get,
    Router,
};
use maud::{html, Markup};

use super::{body, checkbox, page, revops, saved_or_refused, text, when, Entered, Kind, Shown};
use crate::{
    db::routing::Rep,
    http::AppState,
    pages::{
        form::{csrf_input, form_error, Errors, PageForm},
        PageError, Viewer,
    },
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new().route("/app/settings/reps", get(show).post(save))
}

/// The members of a rep body, each converted from its form text.
const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("email", Kind::Text),
    ("queues", Kind::List),
    ("active", Kind::Bool),
    ("capacity", Kind::Number),
    ("away_until", Kind::Text),
];

/// The form filled in with a stored rep.
fn entered_of(rep: &Rep) -> Entered {
    let e = Entered::default()
        .with("id", &rep.id)
        .with("name", &rep.name)
        .with("email", rep.email.clone().unwrap_or_default())
        .with("queues", rep.queues.join(", "))
        .with(
            "capacity",
            rep.capacity.map(|c| c.to_string()).unwrap_or_default(),
        )
        .with(
            "away_until",
            rep.away_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
        );
    if rep.active {
        e.with("active", "true")
    } else {
        e
    }
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let reps = state.service.reps().await?;
    let content = html! {
        (table(&reps))
        h2 id="rep-form" { "Add or change a rep" }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/reps" {
            (csrf_input(viewer))
            (text("id", "Rep id", entered.get("id"), errors))
            (text("name", "Name", entered.get("name"), errors))
            (text("email", "Email", entered.get("email"), errors))
            (text("queues", "Queues (ids, comma-separated)", entered.get("queues"), errors))
            (text("capacity", "Capacity (open leads; empty for no cap)", entered.get("capacity"), errors))
            (text("away_until", "Away until (e.g. 2026-12-24T09:00:00Z; empty if here)", entered.get("away_until"), errors))
            (checkbox("active", "Active", entered.get("active") == "true", errors))
            button type="submit" { "Save rep" }
        }
    };
    Ok(page(viewer, "Reps", entered, content))
}

fn table(reps: &[Rep]) -> Markup {
    html! {
        table.settings-table {
            thead { tr { th { "Rep" } th { "Queues" } th { "Open" } th { "Capacity" } th { "Away until" } th { "Status" } th { "" } } }
            tbody {
                @for r in reps {
                    tr data-rep=(r.id) {
                        td { (r.name) " " code { (r.id) } }
                        td { (r.queues.join(", ")) }
                        td { (r.open_leads) }
                        td.capacity { @if let Some(c) = r.capacity { (c) } @else { "no cap" } }
                        td { @if let Some(t) = r.away_until { (when(t)) } @else { "—" } }
                        td { @if r.active { "active" } @else { "inactive" } }
                        td { a href=(format!("/app/settings/reps?edit={}#rep-form", r.id)) { "Edit " span.visually-hidden { (r.id) } } }
                    }
                }
            }
        }
    }
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let entered = match q.edit.clone() {
        Some(id) => match state.service.reps().await?.iter().find(|r| r.id == id) {
            Some(rep) => entered_of(rep),
            None => Entered::default().with("id", id).with("active", "true"),
        },
        None => Entered::default().with("active", "true"),
    };
    render(&state, &viewer, &entered.saved(&q), &Errors::none()).await
}

async fn save(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let id = form.text("id").unwrap_or("");
    let result = if id.is_empty() {
        Err(crate::service::Error::field("id", "enter the rep's id"))
    } else {
        state.service.put_rep(id, &body(&form.fields, FIELDS)).await
    };
    let (state, form) = (&state, &form);
    saved_or_refused(result, "/app/settings/reps", |errors| async move {
        render(state, &form.viewer, &Entered::of(&form.fields), &errors).await
    })
    .await
}
