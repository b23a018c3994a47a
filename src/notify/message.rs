//! What a notification says, whatever carries it: a subject line per kind, the lead's summary
//! as label/value lines, and the link to the lead's page. Email renders it as plain text and
//! HTML; the Slack transport may reuse the same pieces.

use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::{Notification, NotificationKind};

/// The lead page: `{base}/app/leads/{id}` (`base` is `SALGATE_PUBLIC_URL`, else the address
/// served on).
pub fn lead_link(base: &str, n: &Notification) -> String {
    format!("{}/app/leads/{}", base.trim_end_matches('/'), n.lead_id)
}

/// The lead's name, else its email, else "a lead".
pub fn lead_name(n: &Notification) -> String {
    text(&n.payload, "name")
        .or_else(|| text(&n.payload, "email"))
        .unwrap_or_else(|| "a lead".to_string())
}

/// One line saying what happened.
pub fn subject(n: &Notification) -> String {
    let who = lead_name(n);
    let company = text(&n.payload, "company")
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    match n.kind {
        NotificationKind::Routed => format!("New lead for you: {who}{company}"),
        NotificationKind::Unassigned => {
            let queue = text(&n.payload, "queue").unwrap_or_default();
            format!("Unassigned lead waiting in {queue}: {who}{company}")
        }
        NotificationKind::AtRisk => format!("SLA at risk: {who}{company}"),
        NotificationKind::Breached => format!("SLA breached: {who}{company}"),
        NotificationKind::FirstTouchDue => format!("First touch due: {who}{company}"),
        NotificationKind::FirstTouchMissed => format!("First touch missed: {who}{company}"),
    }
}

/// The summary lines (label, value) that have a value, in a fixed order.
pub fn summary(n: &Notification) -> Vec<(&'static str, String)> {
    const FIELDS: [(&str, &str); 12] = [
        ("Name", "name"),
        ("Title", "title"),
        ("Company", "company"),
        ("Company size", "company_size"),
        ("Country", "country"),
        ("Source", "source"),
        ("Campaign", "campaign"),
        ("Owner", "owner"),
        ("Queue", "queue"),
        ("SLA due at", "sla_due_at"),
        ("First touch due at", "first_touch_due_at"),
        ("Escalated to", "escalated_to"),
    ];
    FIELDS
        .iter()
        .filter(|(_, key)| *key != "first_touch_due_at" || touch_kind(n.kind))
        .filter_map(|(label, key)| text(&n.payload, key).map(|v| (*label, v)))
        .collect()
}

fn touch_kind(kind: NotificationKind) -> bool {
    matches!(
        kind,
        NotificationKind::FirstTouchDue | NotificationKind::FirstTouchMissed
    )
}

/// The plain-text body.
pub fn plain(n: &Notification, link: &str) -> String {
    let mut out = format!("{}\n\n", subject(n));
    for (label, value) in summary(n) {
        out.push_str(&format!("{label}: {value}\n"));
    }
    out.push_str(&format!("\nOpen the lead: {link}\n"));
    out
}

/// The HTML body (maud escapes every value).
pub fn html_body(n: &Notification, link: &str) -> Markup {
    html! {
        (DOCTYPE)
        html {
            head { meta charset="utf-8"; title { (subject(n)) } }
            body {
                p { strong { (subject(n)) } }
                table {
                    @for (label, value) in summary(n) {
                        tr { th align="left" { (label) } td { (value) } }
                    }
                }
                p { a href=(link) { "Open the lead" } }
            }
        }
    }
}

/// A payload value as text: strings as they are, numbers printed, null and absent as `None`.
fn text(payload: &Value, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
