//! `GET /app/leads/{id}`: every field of a lead, its company and attributes, its history as a
//! timeline, and the forms of what may be done next (accept, reject, recycle, log a touch).
//! The decision handlers render the same page again with a refused form's messages or a
//! conflict notice.

use axum::extract::{Path, Query, State};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{ago_text, company_name, done_notice, first_touch_badge, lead_name, sla_badge};
use crate::{
    db::{
        history::HistoryEntry,
        reason_codes::{ReasonCode, ReasonKind},
    },
    domain::{Action, LeadState},
    http::AppState,
    pages::{
        form::{csrf_input, field, form_error, Errors},
        layout::{self, Nav},
        PageError, Viewer,
    },
    views::lead::Lead,
};

/// The channels offered when logging a touch.
const CHANNELS: &[&str] = &["call", "email", "linkedin", "meeting", "sms"];

/// A submitted form shown again: which one, its messages, and what was typed.
#[derive(Debug, Default)]
pub struct Submitted {
    pub kind: String,
    pub errors: Errors,
    pub values: Map<String, Value>,
}

/// Everything the lead page shows.
pub struct LeadPage {
    pub lead: Lead,
    pub history: Vec<HistoryEntry>,
    pub rejection: Vec<ReasonCode>,
    pub recycle: Vec<ReasonCode>,
    pub now: DateTime<Utc>,
}

/// Reads what the page shows, as the viewer may see it.
pub async fn load(state: &AppState, viewer: &Viewer, id: Uuid) -> Result<LeadPage, PageError> {
    let s = &state.service;
    let (lead, history, rejection, recycle) = tokio::try_join!(
        s.get(&viewer.caller, id),
        s.history(&viewer.caller, id),
        s.active_reasons(ReasonKind::Rejection),
        s.active_reasons(ReasonKind::Recycle),
    )?;
    Ok(LeadPage {
        lead,
        history,
        rejection,
        recycle,
        now: s.clock.now(),
    })
}

/// A lead id from the path; a malformed one names no lead.
pub fn lead_id(raw: &str) -> Result<Uuid, PageError> {
    raw.parse()
        .map_err(|_| PageError::NotFound("no lead with this id"))
}

#[derive(Debug, Deserialize)]
pub struct LeadQuery {
    done: Option<String>,
}

pub async fn lead_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<LeadQuery>,
) -> Result<Markup, PageError> {
    let page = load(&state, &viewer, lead_id(&id)?).await?;
    let notice = done_notice(q.done.as_deref());
    Ok(render(&viewer, &page, notice, &Submitted::default()))
}

/// The whole page; `notice` goes above everything, `submitted` fills its form again.
pub fn render(viewer: &Viewer, page: &LeadPage, notice: Markup, submitted: &Submitted) -> Markup {
    let lead = &page.lead;
    let body = html! {
        (notice)
        p { a href="/app" { "← Back to the inbox" } }
        div.lead-page data-now=(page.now.to_rfc3339()) {
            section.lead-summary aria-labelledby="summary-h" {
                h2 #summary-h { (lead_name(lead)) @if let Some(c) = company_name(lead) { " · " (c) } }
                p { span.state { (lead.state.to_string()) } " · " (sla_badge(lead, page.now))
                    @if lead.state == LeadState::Accepted { " · first touch: " (first_touch_badge(lead, page.now)) } }
            }
            (actions(viewer, page, submitted))
            (fields(lead))
            (timeline(&page.history, page.now))
        }
    };
    layout::page(
        Some(viewer),
        &format!("Lead {}", lead_name(lead)),
        Nav::Inbox,
        body,
    )
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map(|v| v.to_string())
        .unwrap_or_else(|| "—".into())
}

fn fields(lead: &Lead) -> Markup {
    let rows: Vec<(&str, String)> = vec![
        ("Id", lead.id.to_string()),
        ("Source", format!("{} / {}", lead.source, lead.external_id)),
        ("Lead type", lead.lead_type.clone()),
        ("Email", opt(&lead.email)),
        ("First name", opt(&lead.first_name)),
        ("Last name", opt(&lead.last_name)),
        ("Title", opt(&lead.title)),
        ("Phone", opt(&lead.phone)),
        ("Score", opt(&lead.score)),
        ("Campaign", opt(&lead.campaign)),
        ("Channel", opt(&lead.channel)),
        ("Queue", opt(&lead.queue)),
        ("Owner", opt(&lead.owner)),
        ("State", lead.state.to_string()),
        ("Cycle", lead.cycle.to_string()),
        ("Routed at", lead.routed_at.to_rfc3339()),
        (
            "Accepted",
            format!("{} {}", opt(&lead.accepted_by), opt(&lead.accepted_at)),
        ),
        ("Accepted within SLA", opt(&lead.accepted_within_sla)),
        (
            "Rejected",
            format!(
                "{} {} {}",
                opt(&lead.rejected_by),
                opt(&lead.rejected_at),
                opt(&lead.rejection_code)
            ),
        ),
        (
            "Recycled",
            format!(
                "{} {} {}",
                opt(&lead.recycled_by),
                opt(&lead.recycled_at),
                opt(&lead.recycle_reason)
            ),
        ),
        ("Decision note", opt(&lead.decision_note)),
        ("Next action", opt(&lead.next_action)),
        (
            "SLA policy",
            opt(&lead.sla.as_ref().map(|s| s.policy.clone())),
        ),
        (
            "Decision due",
            opt(&lead.sla.as_ref().map(|s| s.due_at.to_rfc3339())),
        ),
        (
            "First touch due",
            opt(&lead.sla.as_ref().and_then(|s| s.first_touch.due_at)),
        ),
        (
            "First touched",
            opt(&lead.sla.as_ref().and_then(|s| s.first_touch.touched_at)),
        ),
        ("Version", lead.version.to_string()),
        ("Created", lead.created_at.to_rfc3339()),
        ("Updated", lead.updated_at.to_rfc3339()),
    ];
    let empty = Map::new();
    html! {
        section.lead-fields aria-labelledby="fields-h" {
            h2 #fields-h { "Details" }
            dl.fields { @for (k, v) in &rows { dt { (k) } dd { (v) } } }
            h3 { "Company" }
            @match lead.company.as_ref().and_then(Value::as_object) {
                Some(c) => dl.fields { @for (k, v) in c { dt { (k) } dd { (value_text(v)) } } },
                None => p.empty { "No company given." },
            }
            h3 { "Attributes" }
            @let attrs = lead.attributes.as_object().unwrap_or(&empty);
            @if attrs.is_empty() { p.empty { "No attributes." } }
            @else { dl.fields { @for (k, v) in attrs { dt { (k) } dd { (value_text(v)) } } } }
        }
    }
}

fn timeline(history: &[HistoryEntry], now: DateTime<Utc>) -> Markup {
    html! {
        section.lead-history aria-labelledby="history-h" {
            h2 #history-h { "History" }
            ol.timeline {
                @for e in history {
                    li.(format!("kind-{}", e.kind)) {
                        time datetime=(e.occurred_at.to_rfc3339()) title=(e.occurred_at.to_rfc3339()) {
                            (ago_text(e.occurred_at, now))
                        }
                        " " strong { (e.kind) }
                        @if let Some(rep) = &e.rep { " · " (rep) }
                        " · by " (e.actor) " (" (e.actor_role) ")"
                        @if let Some(code) = &e.code { " · " code { (code) } }
                        @if let Some(note) = &e.note { p.note { (note) } }
                        @if let Some(data) = e.data.as_ref().and_then(Value::as_object) {
                            @if !data.is_empty() {
                                p.muted { @for (k, v) in data { (k) ": " (value_text(v)) "; " } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn actions(viewer: &Viewer, page: &LeadPage, submitted: &Submitted) -> Markup {
    let allowed = page.lead.state.allowed_actions();
    let touchable = matches!(page.lead.state, LeadState::Routed | LeadState::Accepted);
    html! {
        section.lead-actions aria-labelledby="actions-h" {
            h2 #actions-h { "Decide" }
            @if allowed.contains(&Action::Accept) { (accept_form(viewer, page, submitted)) }
            @if allowed.contains(&Action::Reject) { (reject_form(viewer, page, submitted)) }
            @if allowed.contains(&Action::Recycle) { (recycle_form(viewer, page, submitted)) }
            @if touchable { (touch_form(viewer, page, submitted)) }
            @if !touchable && !allowed.contains(&Action::Recycle) {
                p.empty { "This lead is " (page.lead.state.to_string()) "; nothing is left to decide in this cycle." }
            }
        }
    }
}

/// The errors and typed values of form `kind`, if it was the one submitted.
fn of<'s>(submitted: &'s Submitted, kind: &str) -> (&'s Errors, Option<&'s Map<String, Value>>) {
    static NONE: std::sync::LazyLock<Errors> = std::sync::LazyLock::new(Errors::none);
    if submitted.kind == kind {
        (&submitted.errors, Some(&submitted.values))
    } else {
        (&NONE, None)
    }
}

fn typed<'v>(values: Option<&'v Map<String, Value>>, name: &str) -> Option<&'v str> {
    values?.get(name)?.as_str()
}

fn text_input(
    kind: &str,
    name: &str,
    label: &str,
    errors: &Errors,
    values: Option<&Map<String, Value>>,
) -> Markup {
    let id = format!("{kind}-{name}");
    let input = html! {
        input id=(id) name=(name) type="text" value=[typed(values, name)]
            aria-describedby=[errors.get(name).map(|_| format!("{id}-error"))];
    };
    field(&id, name, label, input, errors)
}

fn code_select(
    kind: &str,
    name: &str,
    label: &str,
    codes: &[ReasonCode],
    errors: &Errors,
    values: Option<&Map<String, Value>>,
) -> Markup {
    let id = format!("{kind}-{name}");
    let chosen = typed(values, name);
    let input = html! {
        select id=(id) name=(name) aria-describedby=[errors.get(name).map(|_| format!("{id}-error"))] {
            option value="" { "Choose…" }
            @for c in codes {
                option value=(c.code) selected[chosen == Some(c.code.as_str())] { (c.label) " (" (c.code) ")" }
            }
        }
    };
    field(&id, name, label, input, errors)
}

/// The common parts of a decision form: CSRF token, the version it was decided on (a stale
/// page gets a conflict), and for a revops viewer the rep it decides for.
fn form_head(
    viewer: &Viewer,
    page: &LeadPage,
    kind: &str,
    errors: &Errors,
    values: Option<&Map<String, Value>>,
) -> Markup {
    let owner = page.lead.owner.as_deref();
    html! {
        (csrf_input(viewer))
        input type="hidden" name="version" value=(page.lead.version);
        (form_error(errors))
        @if viewer.is_revops() {
            @let id = format!("{kind}-on_behalf_of");
            (field(&id, "on_behalf_of", "On behalf of rep", html! {
                input id=(id) name="on_behalf_of" type="text" value=[typed(values, "on_behalf_of").or(owner)];
            }, errors))
        }
    }
}

fn accept_form(viewer: &Viewer, page: &LeadPage, submitted: &Submitted) -> Markup {
    let (errors, values) = of(submitted, "accept");
    html! {
        form.decision #accept-form method="post" action=(format!("/app/leads/{}/accept", page.lead.id)) {
            h3 { "Accept" }
            (form_head(viewer, page, "accept", errors, values))
            (text_input("accept", "note", "Note", errors, values))
            (text_input("accept", "next_action", "Next action", errors, values))
            button #accept-submit type="submit" { "Accept" }
        }
    }
}

fn reject_form(viewer: &Viewer, page: &LeadPage, submitted: &Submitted) -> Markup {
    let (errors, values) = of(submitted, "reject");
    html! {
        form.decision #reject-form method="post" action=(format!("/app/leads/{}/reject", page.lead.id)) {
            h3 { "Reject" }
            (form_head(viewer, page, "reject", errors, values))
            (code_select("reject", "code", "Rejection code", &page.rejection, errors, values))
            (text_input("reject", "note", "Note (required for “other”)", errors, values))
            button.danger #reject-submit type="submit" { "Reject" }
        }
    }
}

fn recycle_form(viewer: &Viewer, page: &LeadPage, submitted: &Submitted) -> Markup {
    let (errors, values) = of(submitted, "recycle");
    html! {
        form.decision #recycle-form method="post" action=(format!("/app/leads/{}/recycle", page.lead.id)) {
            h3 { "Recycle to nurture" }
            (form_head(viewer, page, "recycle", errors, values))
            (code_select("recycle", "reason", "Recycle reason", &page.recycle, errors, values))
            (text_input("recycle", "note", "Note", errors, values))
            button.secondary #recycle-submit type="submit" { "Recycle" }
        }
    }
}

fn touch_form(viewer: &Viewer, page: &LeadPage, submitted: &Submitted) -> Markup {
    let (errors, values) = of(submitted, "touch");
    let chosen = typed(values, "channel");
    let input = html! {
        select id="touch-channel" name="channel" {
            @for c in CHANNELS { option value=(c) selected[chosen == Some(*c)] { (c) } }
        }
    };
    html! {
        form.decision #touch-form method="post" action=(format!("/app/leads/{}/touch", page.lead.id)) {
            h3 { "Log a touch" }
            (csrf_input(viewer))
            input type="hidden" name="version" value=(page.lead.version);
            (form_error(errors))
            (field("touch-channel", "channel", "Channel", input, errors))
            button.secondary #touch-submit type="submit" { "Log touch" }
        }
    }
}
