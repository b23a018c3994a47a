//! SLA policies, per lead type (`default` for the others): accept within, first touch
//! within, at-risk share, what a breach does, and the calendar their hours count in.

use axum::{
    extract::{Query, State},
    response::Response,
    routing::get,
    Router,
};
use maud::{html, Markup};

use super::{body, page, revops, saved_or_refused, select, text, when, Entered, Kind, Shown};
use crate::{
    http::AppState,
    pages::{
        form::{csrf_input, form_error, Errors, PageForm},
        PageError, Viewer,
    },
    service::Error,
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new().route("/app/settings/sla", get(show).post(save))
}

const ON_BREACH: &[&str] = &["notify", "return_to_queue", "reassign"];

/// The members of a policy body, each converted from its form text.
const FIELDS: &[(&str, Kind)] = &[
    ("accept_within", Kind::Text),
    ("first_touch_within", Kind::Text),
    ("at_risk_ratio", Kind::Number),
    ("on_breach", Kind::Text),
    ("calendar", Kind::Text),
];

async fn render(
    state: &AppState,
    viewer: &Viewer,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let policies = state.service.sla_policies().await?;
    let calendars: Vec<String> = state
        .service
        .calendars()
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut calendar_options = vec![""];
    calendar_options.extend(calendars.iter().map(String::as_str));
    let content = html! {
        table.settings-table {
            thead { tr { th { "Lead type" } th { "Accept within" } th { "First touch within" } th { "At risk at" } th { "On breach" } th { "Calendar" } th { "Changed" } th { "" } } }
            tbody {
                @for p in &policies {
                    tr data-policy=(p.lead_type) {
                        td { code { (p.lead_type) } }
                        td { (p.accept_within) }
                        td { (p.first_touch_within) }
                        td { (format!("{:.0} %", p.at_risk_ratio * 100.0)) }
                        td { (p.on_breach) }
                        td { (p.calendar_id.as_deref().unwrap_or("24×7")) }
                        td { (when(p.updated_at)) }
                        td { a href=(format!("/app/settings/sla?edit={}#policy-form", p.lead_type)) { "Edit " span.visually-hidden { (p.lead_type) } } }
                    }
                }
            }
        }
        h2 id="policy-form" { "Add or change a policy" }
        p { "Durations are ISO 8601 working time, e.g. PT1H, PT30M, P1D. A change applies to leads routed from now on." }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/sla" {
            (csrf_input(viewer))
            (text("lead_type", "Lead type (default for all others)", entered.get("lead_type"), errors))
            (text("accept_within", "Accept within", entered.get("accept_within"), errors))
            (text("first_touch_within", "First touch within", entered.get("first_touch_within"), errors))
            (text("at_risk_ratio", "At risk after this share of the accept window (0–1)", entered.get("at_risk_ratio"), errors))
            (select("on_breach", "On breach", ON_BREACH, entered.get("on_breach"), errors))
            (select("calendar", "Calendar (none: 24×7)", &calendar_options, entered.get("calendar"), errors))
            button type="submit" { "Save policy" }
        }
    };
    Ok(page(viewer, "SLA policies", entered, content))
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let mut entered = Entered::default().with("at_risk_ratio", "0.75");
    if let Some(t) = &q.edit {
        if let Some(p) = state
            .service
            .sla_policies()
            .await?
            .into_iter()
            .find(|p| &p.lead_type == t)
        {
            entered = entered
                .with("lead_type", p.lead_type)
                .with("accept_within", p.accept_within)
                .with("first_touch_within", p.first_touch_within)
                .with("at_risk_ratio", p.at_risk_ratio.to_string())
                .with("on_breach", p.on_breach)
                .with("calendar", p.calendar_id.unwrap_or_default());
        }
    }
    render(&state, &viewer, &entered.saved(&q), &Errors::none()).await
}

async fn save(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let result = match form.text("lead_type") {
        None => Err(Error::field("lead_type", "enter a lead type, or default")),
        Some(t) => {
            state
                .service
                .put_sla_policy(t, &body(&form.fields, FIELDS))
                .await
        }
    };
    let (state, form) = (&state, &form);
    saved_or_refused(result, "/app/settings/sla", |errors| async move {
        render(state, &form.viewer, &Entered::of(&form.fields), &errors).await
    })
    .await
}
