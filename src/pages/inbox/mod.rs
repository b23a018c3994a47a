//! The SDR inbox (`/app`) and the lead page (`/app/leads/{id}`): what a rep must decide,
//! claim and touch next, with a live SLA countdown (`assets/app.js` ticks the `<time>`
//! elements), and the decision forms that call the same use cases as the API.

mod claim;
mod decide;
mod lead;
mod list;

use axum::{
    routing::{get, post},
    Router,
};
use chrono::{DateTime, Utc};
use maud::{html, Markup};

use crate::{domain::sla::SlaStatus, http::AppState, views::lead::Lead};

/// The inbox's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(list::inbox_page))
        .route("/app/inbox/lists", get(list::lists_fragment))
        .route("/app/queues/{queue}/claim", post(claim::claim_next))
        .route("/app/leads/{id}", get(lead::lead_page))
        .route("/app/leads/{id}/touch", post(decide::touch))
        .route("/app/leads/{id}/{kind}", post(decide::decide))
}

/// "1 h 12 min", "3 min", "45 s", "2 d 4 h": a span of time as people read it (the same
/// wording as `assets/app.js`, which takes over once the page is loaded).
pub fn span_text(seconds: i64) -> String {
    let s = seconds.abs();
    if s >= 86_400 {
        format!("{} d {} h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// "due in 1 h 12 min" or "breached 5 min ago", as of `now`.
pub fn due_text(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = (due - now).num_seconds();
    if left >= 0 {
        format!("due in {}", span_text(left))
    } else {
        format!("breached {} ago", span_text(left))
    }
}

/// "5 min ago", "in 2 h 3 min".
pub fn ago_text(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let s = (now - at).num_seconds();
    if s >= 0 {
        format!("{} ago", span_text(s))
    } else {
        format!("in {}", span_text(s))
    }
}

fn status_label(status: SlaStatus) -> &'static str {
    match status {
        SlaStatus::OnTrack => "on track",
        SlaStatus::AtRisk => "at risk",
        SlaStatus::Breached => "breached",
        SlaStatus::Met => "met",
        SlaStatus::Missed => "missed",
    }
}

/// The words before a countdown: "on track · ", "at risk · ", nothing for a breach (the
/// countdown says "breached … ago"); a decided cycle's status alone.
fn status_prefix(status: SlaStatus, open: bool) -> String {
    match (status, open) {
        (SlaStatus::Breached, true) => String::new(),
        (s, true) => format!("{} · ", status_label(s)),
        (s, false) => status_label(s).to_string(),
    }
}

/// The decision SLA of a lead: its status in words and colour, and a countdown to its due
/// time that `app.js` keeps live (it reads `data-due`/`data-risk` and the page's `data-now`).
pub fn sla_badge(lead: &Lead, now: DateTime<Utc>) -> Markup {
    let Some(sla) = &lead.sla else {
        return html! { span.sla.sla-none { "no SLA" } };
    };
    let open = matches!(
        sla.status,
        SlaStatus::OnTrack | SlaStatus::AtRisk | SlaStatus::Breached
    );
    html! {
        span.sla.(format!("sla-{}", sla.status.as_str()))
            data-due=[open.then(|| sla.due_at.to_rfc3339())]
            data-risk=[open.then(|| sla.at_risk_at.to_rfc3339())] {
            span.sla-status { (status_prefix(sla.status, open)) }
            @if open {
                time.countdown datetime=(sla.due_at.to_rfc3339()) { (due_text(sla.due_at, now)) }
            }
        }
    }
}

/// The first-touch SLA of an accepted lead (on track until due, then breached).
pub fn first_touch_badge(lead: &Lead, now: DateTime<Utc>) -> Markup {
    let due = lead.sla.as_ref().and_then(|s| s.first_touch.due_at);
    let Some(due) = due else {
        return html! { span.sla.sla-none { "no first-touch SLA" } };
    };
    let status = if due < now {
        SlaStatus::Breached
    } else {
        SlaStatus::OnTrack
    };
    html! {
        span.sla.(format!("sla-{}", status.as_str())) data-due=(due.to_rfc3339()) {
            span.sla-status { (status_prefix(status, true)) }
            time.countdown datetime=(due.to_rfc3339()) { (due_text(due, now)) }
        }
    }
}

/// "Ada Lovelace", else the email, else the external id.
pub fn lead_name(lead: &Lead) -> String {
    let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !name.is_empty() {
        name
    } else if let Some(email) = &lead.email {
        email.clone()
    } else {
        lead.external_id.clone()
    }
}

/// The company's name, if the lead has one.
pub fn company_name(lead: &Lead) -> Option<&str> {
    lead.company.as_ref()?.get("name")?.as_str()
}

/// Notices a redirect may ask for (`?done=`): fixed texts, so no query can put words on the
/// page.
pub fn done_notice(done: Option<&str>) -> Markup {
    let text = match done {
        Some("accept") => "Lead accepted.",
        Some("reject") => "Lead rejected.",
        Some("recycle") => "Lead recycled to nurture.",
        Some("touch") => "Touch logged.",
        Some("claim") => "Lead claimed: it is yours now.",
        Some("none") => "Nothing is waiting in that queue.",
        _ => return html! {},
    };
    html! { div.notice.ok role="status" { p { (text) } } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_the_largest_units_that_matter() {
        assert_eq!(span_text(45), "45 s");
        assert_eq!(span_text(-300), "5 min");
        assert_eq!(span_text(4320), "1 h 12 min");
        assert_eq!(span_text(2 * 86_400 + 4 * 3600 + 5), "2 d 4 h");
    }

    #[test]
    fn a_due_time_reads_as_a_countdown_then_as_a_breach() {
        let now: DateTime<Utc> = "2026-03-02T12:00:00Z".parse().unwrap();
        let due: DateTime<Utc> = "2026-03-02T13:12:00Z".parse().unwrap();
        assert_eq!(due_text(due, now), "due in 1 h 12 min");
        let late = now + chrono::Duration::minutes(5);
        assert_eq!(due_text(now, late), "breached 5 min ago");
    }
}
