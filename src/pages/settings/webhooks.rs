//! Webhook subscriptions: the list, subscribe a URL (its signing secret is shown on the
//! answer page only), delete one, resume a paused one; a subscription's recent deliveries
//! and sending one again.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use maud::{html, Markup};

use super::{body, done, page, refusal, refused, revops, text, when, Entered, Kind, Shown};
use crate::{
    db::webhooks::{Delivery, Subscription},
    http::AppState,
    pages::{
        form::{csrf_input, form_error, Errors, PageForm},
        PageError, Viewer,
    },
    service::settings::webhooks::{parse_id, EVENT_TYPES, NO_DELIVERY, NO_SUBSCRIPTION},
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings/webhooks", get(show).post(create))
        .route("/app/settings/webhooks/{id}", get(deliveries))
        .route("/app/settings/webhooks/{id}/{change}", post(change))
        .route(
            "/app/settings/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(redeliver),
        )
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    made: Option<(&Subscription, &str)>,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let subs = state.service.subscriptions().await?;
    let content = html! {
        @if let Some((sub, secret)) = made {
            div.notice.ok role="status" {
                p { "Subscribed " code { (sub.url) } ". Its signing secret, shown only now:" }
                p { code #new-secret { (secret) } }
            }
        }
        (table(viewer, &subs))
        h2 { "Subscribe a URL" }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/webhooks" {
            (csrf_input(viewer))
            (text("url", "URL (https)", entered.get("url"), errors))
            (text("events", &format!("Events, comma-separated (empty: all of {})", EVENT_TYPES.join(", ")), entered.get("events"), errors))
            (text("description", "Description", entered.get("description"), errors))
            button type="submit" { "Subscribe" }
        }
    };
    Ok(page(viewer, "Webhooks", entered, content))
}

fn table(viewer: &Viewer, subs: &[Subscription]) -> Markup {
    html! {
        table.settings-table {
            thead { tr { th { "URL" } th { "Events" } th { "Status" } th { "Made" } th { "" } } }
            tbody {
                @for s in subs {
                    tr data-subscription=(s.id) {
                        td { a href=(format!("/app/settings/webhooks/{}", s.id)) { (s.url) } }
                        td { @if s.events.is_empty() { "all" } @else { (s.events.join(", ")) } }
                        td.status { (s.status) @if let Some(r) = &s.pause_reason { " — " (r) } }
                        td { (when(s.created_at)) }
                        td.actions {
                            @if s.status == "paused" { (button(viewer, s, "resume", "Resume")) }
                            (button(viewer, s, "delete", "Delete"))
                        }
                    }
                }
            }
        }
    }
}

fn button(viewer: &Viewer, s: &Subscription, change: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(format!("/app/settings/webhooks/{}/{change}", s.id)) {
            (csrf_input(viewer))
            button type="submit" aria-label=(format!("{label} {}", s.url)) { (label) }
        }
    }
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let entered = Entered::default().saved(&q);
    render(&state, &viewer, None, &entered, &Errors::none()).await
}

async fn create(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let fields = &[
        ("url", Kind::Text),
        ("events", Kind::List),
        ("description", Kind::Text),
    ];
    let body = body(&form.fields, fields);
    match state
        .service
        .create_subscription(&state.outbound, &body)
        .await
    {
        Ok((sub, secret)) => {
            let made = Some((&sub, secret.as_str()));
            let markup = render(
                &state,
                &form.viewer,
                made,
                &Entered::default(),
                &Errors::none(),
            )
            .await?;
            Ok(markup.into_response())
        }
        Err(e) => {
            let errors = refusal(e)?;
            let markup = render(
                &state,
                &form.viewer,
                None,
                &Entered::of(&form.fields),
                &errors,
            )
            .await?;
            Ok(refused(markup))
        }
    }
}

async fn change(
    State(state): State<AppState>,
    Path((id, change)): Path<(String, String)>,
    form: PageForm,
) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let id = parse_id(&id, NO_SUBSCRIPTION)?;
    match change.as_str() {
        "delete" => state.service.delete_subscription(id).await?,
        "resume" => {
            state.service.resume_subscription(id).await?;
        }
        _ => return Err(PageError::NotFound("no such change")),
    }
    Ok(done("/app/settings/webhooks"))
}

fn delivery_row(viewer: &Viewer, sub: &Subscription, d: &Delivery) -> Markup {
    html! {
        tr data-delivery=(d.id) {
            td { (d.event_type) }
            td { a href=(format!("/app/leads/{}", d.lead_id)) { code { (d.lead_id) } } }
            td.status { (d.status) }
            td { (d.attempts) }
            td { (d.last_error.as_deref().unwrap_or("—")) }
            td { (when(d.created_at)) }
            td {
                form method="post" action=(format!("/app/settings/webhooks/{}/deliveries/{}/redeliver", sub.id, d.id)) {
                    (csrf_input(viewer))
                    button type="submit" aria-label=(format!("Send {} again", d.event_type)) { "Send again" }
                }
            }
        }
    }
}

async fn deliveries(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    let id = parse_id(&id, NO_SUBSCRIPTION)?;
    let sub = state.service.subscription(id).await?;
    let list = state.service.deliveries(id, 50).await?;
    let content = html! {
        p { "Deliveries to " code { (sub.url) } " (" (sub.status) "), newest first. "
            a href="/app/settings/webhooks" { "All subscriptions" } }
        table.settings-table {
            thead { tr { th { "Event" } th { "Lead" } th { "Status" } th { "Attempts" } th { "Last error" } th { "Made" } th { "" } } }
            tbody { @for d in &list { (delivery_row(&viewer, &sub, d)) } }
        }
        @if list.is_empty() { p { "Nothing delivered yet." } }
    };
    Ok(page(
        &viewer,
        "Webhooks",
        &Entered::default().saved(&q),
        content,
    ))
}

async fn redeliver(
    State(state): State<AppState>,
    Path((id, delivery)): Path<(String, String)>,
    form: PageForm,
) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let sub = parse_id(&id, NO_SUBSCRIPTION)?;
    state
        .service
        .redeliver(parse_id(&delivery, NO_DELIVERY)?)
        .await?;
    Ok(done(&format!("/app/settings/webhooks/{sub}")))
}
