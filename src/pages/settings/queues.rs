//! Queues: their strategy, claim order, calendar and members. Members are set on the reps (as in the
//! API); this page lists them. One form adds a queue or replaces one (`?edit=<id>`).

use axum::{
    extract::{Query, State},
    response::Response,
    routing::get,
    Router,
};
use maud::{html, Markup};

use super::{body, page, revops, saved_or_refused, select, text, Entered, Kind, Shown};
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
    Router::new().route("/app/settings/queues", get(show).post(save))
}

const STRATEGIES: &[&str] = &["round_robin", "least_loaded", "claim"];
const CLAIM_ORDERS: &[&str] = &["due", "likely_accepted"];

async fn render(
    state: &AppState,
    viewer: &Viewer,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let queues = state.service.queues().await?;
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
            thead { tr { th { "Queue" } th { "Strategy" } th { "Claim order" } th { "Calendar" } th { "Members" } th { "" } } }
            tbody {
                @for q in &queues {
                    tr data-queue=(q.id) {
                        td { (q.name) " " code { (q.id) } }
                        td { (q.strategy.as_str()) }
                        td { (q.claim_order.as_str()) }
                        td { (q.calendar_id.as_deref().unwrap_or("—")) }
                        td { (q.members.join(", ")) }
                        td { a href=(format!("/app/settings/queues?edit={}#queue-form", q.id)) { "Edit " span.visually-hidden { (q.id) } } }
                    }
                }
            }
        }
        p { "Members are set on each rep (" a href="/app/settings/reps" { "Reps" } ")." }
        h2 id="queue-form" { "Add or change a queue" }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/queues" {
            (csrf_input(viewer))
            (text("id", "Queue id", entered.get("id"), errors))
            (text("name", "Name", entered.get("name"), errors))
            (select("strategy", "Strategy", STRATEGIES, entered.get("strategy"), errors))
            (select("claim_order", "Claim order (due first, or most likely accepted first)", CLAIM_ORDERS, entered.get("claim_order"), errors))
            (select("calendar", "Calendar (when the lead's SLA policy has none)", &calendar_options, entered.get("calendar"), errors))
            button type="submit" { "Save queue" }
        }
    };
    Ok(page(viewer, "Queues", entered, content))
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let mut entered = Entered::default();
    if let Some(id) = &q.edit {
        if let Some(queue) = state
            .service
            .queues()
            .await?
            .into_iter()
            .find(|x| &x.id == id)
        {
            entered = entered
                .with("id", queue.id)
                .with("name", queue.name)
                .with("strategy", queue.strategy.as_str())
                .with("claim_order", queue.claim_order.as_str())
                .with("calendar", queue.calendar_id.unwrap_or_default());
        }
    }
    render(&state, &viewer, &entered.saved(&q), &Errors::none()).await
}

async fn save(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let fields = &[
        ("name", Kind::Text),
        ("strategy", Kind::Text),
        ("claim_order", Kind::Text),
        ("calendar", Kind::Text),
    ];
    let result = match form.text("id") {
        None => Err(Error::field("id", "enter the queue's id")),
        Some(id) => {
            state
                .service
                .put_queue(id, &body(&form.fields, fields))
                .await
        }
    };
    let (state, form) = (&state, &form);
    saved_or_refused(result, "/app/settings/queues", |errors| async move {
        render(state, &form.viewer, &Entered::of(&form.fields), &errors).await
    })
    .await
}
