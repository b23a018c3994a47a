//! `GET /app`: the inbox, and `GET /app/inbox/lists`, its lists alone, which htmx fetches
//! every 10 s so that new leads appear without a reload.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use maud::{html, Markup};
use serde::Deserialize;

use super::{company_name, done_notice, first_touch_badge, lead_name, sla_badge};
use crate::{
    http::AppState,
    pages::{
        form::csrf_input,
        layout::{self, query_escape, Nav},
        PageError, Viewer,
    },
    service::inbox::{Inbox, QueuedLead},
    views::lead::Lead,
};

/// `?rep=` (a revops viewer's choice of inbox) and `?done=` (the notice of a redirect).
#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    rep: Option<String>,
    done: Option<String>,
}

impl InboxQuery {
    fn rep(&self) -> Option<&str> {
        self.rep.as_deref().map(str::trim).filter(|r| !r.is_empty())
    }
}

pub async fn inbox_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<InboxQuery>,
) -> Result<Markup, PageError> {
    let inbox = state.service.inbox(&viewer.caller, q.rep()).await?;
    let body = html! {
        (done_notice(q.done.as_deref()))
        @if viewer.is_revops() { (rep_picker(q.rep())) }
        p.hint { "Keys: " kbd { "j" } "/" kbd { "k" } " move, " kbd { "Enter" } " opens, "
            kbd { "c" } " claims next." }
        (lists(&viewer, &inbox))
    };
    Ok(layout::page(Some(&viewer), "Inbox", Nav::Inbox, body))
}

/// An ended session sends the whole window to sign-in (`HX-Redirect`) rather than letting
/// htmx swap the sign-in page into the lists.
pub async fn lists_fragment(
    State(state): State<AppState>,
    viewer: Result<Viewer, PageError>,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let viewer = match viewer {
        Ok(v) => v,
        Err(PageError::SignIn { .. }) => {
            return Ok(([("hx-redirect", "/app/login?next=/app")], "").into_response())
        }
        Err(e) => return Err(e),
    };
    let inbox = state.service.inbox(&viewer.caller, q.rep()).await?;
    Ok(lists(&viewer, &inbox).into_response())
}

fn rep_picker(rep: Option<&str>) -> Markup {
    html! {
        form.rep-picker method="get" action="/app" {
            label for="rep" { "Rep" }
            input id="rep" name="rep" type="text" value=[rep] placeholder="every owner";
            button.secondary type="submit" { "Show" }
        }
    }
}

/// The three lists, in the element htmx replaces on each poll (with its own attributes, so
/// polling goes on). `data-now` is the server's clock for the countdowns.
fn lists(viewer: &Viewer, inbox: &Inbox) -> Markup {
    let src = match &inbox.rep {
        Some(rep) if viewer.is_revops() => format!("/app/inbox/lists?rep={}", query_escape(rep)),
        _ => "/app/inbox/lists".to_string(),
    };
    let whose = match &inbox.rep {
        Some(rep) if viewer.rep.as_deref() != Some(rep) => format!("{rep}'s routed leads"),
        Some(_) => "My routed leads".to_string(),
        None => "Routed leads of every owner".to_string(),
    };
    html! {
        div #inbox-lists data-now=(inbox.now.to_rfc3339()) hx-get=(src)
            hx-trigger="every 10s" hx-swap="outerHTML" {
            section aria-labelledby="mine-h" {
                h2 #mine-h { (whose) " " span.count { "(" (inbox.mine.total) ")" } }
                (decide_table("mine", &inbox.mine.items, inbox, "No routed leads waiting for a decision."))
                (capped(inbox.mine.items.len(), inbox.mine.total))
            }
            section aria-labelledby="queued-h" {
                h2 #queued-h { "Unassigned in my queues " span.count { "(" (inbox.queued.total) ")" } }
                (claim_buttons(viewer, inbox))
                (queued_table(&inbox.queued.items, inbox))
                (capped(inbox.queued.items.len(), inbox.queued.total))
            }
            section aria-labelledby="untouched-h" {
                h2 #untouched-h { "Accepted, waiting for a first touch " span.count { "(" (inbox.untouched.total) ")" } }
                (touch_table(&inbox.untouched.items, inbox))
                (capped(inbox.untouched.items.len(), inbox.untouched.total))
            }
        }
    }
}

fn capped(shown: usize, total: i64) -> Markup {
    html! {
        @if (shown as i64) < total {
            p.hint { "Showing the " (shown) " most urgent of " (total) "." }
        }
    }
}

fn lead_cell(lead: &Lead) -> Markup {
    html! {
        td {
            a.lead-link href=(format!("/app/leads/{}", lead.id)) { (lead_name(lead)) }
            @if let Some(c) = company_name(lead) { br; span.muted { (c) } }
        }
    }
}

fn decide_table(id: &str, leads: &[Lead], inbox: &Inbox, empty: &str) -> Markup {
    if leads.is_empty() {
        return html! { p.empty { (empty) } };
    }
    html! {
        table.inbox #(id) {
            thead { tr { th { "Lead" } th { "Type" } th { "SLA" } th { "Owner" } } }
            tbody {
                @for lead in leads {
                    tr.row data-lead=(lead.id) tabindex="-1" {
                        (lead_cell(lead))
                        td { (lead.lead_type) }
                        td { (sla_badge(lead, inbox.now)) }
                        td { (lead.owner.as_deref().unwrap_or("—")) }
                    }
                }
            }
        }
    }
}

fn claim_buttons(viewer: &Viewer, inbox: &Inbox) -> Markup {
    if viewer.rep.is_none() || inbox.rep != viewer.rep {
        return html! {};
    }
    html! {
        div.claims {
            @for q in &inbox.queues {
                form.claim method="post" action=(format!("/app/queues/{}/claim", query_escape(&q.id))) {
                    (csrf_input(viewer))
                    button type="submit" data-claim disabled[q.waiting == 0] {
                        "Claim next from " (q.name) " (" (q.waiting) ")"
                    }
                }
            }
        }
    }
}

fn queued_table(leads: &[QueuedLead], inbox: &Inbox) -> Markup {
    if leads.is_empty() {
        return html! { p.empty { "No unassigned leads in your queues." } };
    }
    html! {
        table.inbox #queued {
            thead { tr { th { "Lead" } th { "Queue" } th { "SLA" } } }
            tbody {
                @for q in leads {
                    tr.row data-lead=(q.lead.id) tabindex="-1" {
                        (lead_cell(&q.lead))
                        td { (q.queue_name) }
                        td { (sla_badge(&q.lead, inbox.now)) }
                    }
                }
            }
        }
    }
}

fn touch_table(leads: &[Lead], inbox: &Inbox) -> Markup {
    if leads.is_empty() {
        return html! { p.empty { "Every accepted lead has been touched." } };
    }
    html! {
        table.inbox #untouched {
            thead { tr { th { "Lead" } th { "Next action" } th { "First touch" } } }
            tbody {
                @for lead in leads {
                    tr.row data-lead=(lead.id) tabindex="-1" {
                        (lead_cell(lead))
                        td { (lead.next_action.as_deref().unwrap_or("—")) }
                        td { (first_touch_badge(lead, inbox.now)) }
                    }
                }
            }
        }
    }
}
