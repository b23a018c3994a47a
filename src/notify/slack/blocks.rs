//! Block Kit, built by pure functions: the notification message with its buttons, the message
//! a decision leaves behind (buttons removed), the Reject… and Recycle… modals, and what the
//! buttons carry (`<lead id>:<cycle>`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::notify::{Notification, NotificationKind};

/// `action_id`s of the message's buttons.
pub const ACCEPT: &str = "accept";
pub const REJECT: &str = "reject";
pub const RECYCLE: &str = "recycle";
pub const OPEN: &str = "open";

/// `callback_id`s of the modals.
pub const REJECT_VIEW: &str = "salgate_reject";
pub const RECYCLE_VIEW: &str = "salgate_recycle";

/// The modals' input blocks (their `block_id` and the element's `action_id`).
pub const CODE_BLOCK: &str = "code";
pub const NOTE_BLOCK: &str = "note";

/// Slack shows at most 100 options in a static select.
const MAX_OPTIONS: usize = 100;

/// What a button carries: the lead and the cycle the message was about, so a click on an
/// old message cannot decide a later routing of the same lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub lead: Uuid,
    pub cycle: i32,
}

impl Target {
    pub fn value(self) -> String {
        format!("{}:{}", self.lead, self.cycle)
    }

    pub fn parse(value: &str) -> Option<Target> {
        let (lead, cycle) = value.split_once(':')?;
        let cycle: i32 = cycle.parse().ok().filter(|c| *c >= 1)?;
        Some(Target {
            lead: Uuid::parse_str(lead).ok()?,
            cycle,
        })
    }
}

/// `&`, `<` and `>` escaped as Slack's mrkdwn requires, and cut to `max` characters.
pub fn esc(text: &str, max: usize) -> String {
    let cut: String = text.chars().take(max).collect();
    cut.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": text.chars().take(max).collect::<String>()})
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

/// A time Slack renders in the reader's own zone, with a UTC fallback.
pub fn slack_time(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{time}}|{} UTC>",
        at.timestamp(),
        at.format("%H:%M")
    )
}

/// "SLA due in 1 h 5 min" or "SLA overdue by 12 min", from `due` seen at `now`.
pub fn due_in(due: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (due - now).num_minutes();
    let span = |m: i64| match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    if due > now {
        format!("SLA due in {} ({})", span(minutes.max(1)), slack_time(due))
    } else {
        format!(
            "SLA overdue by {} (was due {})",
            span(-minutes),
            slack_time(due)
        )
    }
}

/// The headline of a notification of `kind`.
pub fn headline(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Routed => "New lead for you",
        NotificationKind::Unassigned => "Lead waiting in your queue, unassigned",
        NotificationKind::AtRisk => "SLA at risk",
        NotificationKind::Breached => "SLA breached",
        NotificationKind::FirstTouchDue => "First touch due",
        NotificationKind::FirstTouchMissed => "First touch missed",
    }
}

fn text_of(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// "*Ada Lovelace*, CTO at *Analytical Engines*" from a lead summary.
fn who_line(summary: &Value) -> String {
    let name = text_of(summary, "name").unwrap_or_else(|| "Unnamed lead".into());
    let mut line = format!("*{}*", esc(&name, 200));
    match (text_of(summary, "title"), text_of(summary, "company")) {
        (Some(t), Some(c)) => line += &format!(", {} at *{}*", esc(&t, 200), esc(&c, 200)),
        (Some(t), None) => line += &format!(", {}", esc(&t, 200)),
        (None, Some(c)) => line += &format!(" at *{}*", esc(&c, 200)),
        (None, None) => {}
    }
    line
}

/// The summary's facts as section fields (Slack allows 10).
fn fields(summary: &Value) -> Vec<Value> {
    [
        ("company_size", "Company size"),
        ("country", "Country"),
        ("source", "Source"),
        ("campaign", "Campaign"),
        ("queue", "Queue"),
        ("owner", "Owner"),
        ("escalated_to", "Escalated to"),
    ]
    .iter()
    .filter_map(|(key, label)| {
        text_of(summary, key).map(|v| mrkdwn(format!("*{label}*\n{}", esc(&v, 500))))
    })
    .collect()
}

fn summary_section(summary: &Value) -> Value {
    let mut section = json!({"type": "section", "text": mrkdwn(who_line(summary))});
    let fields = fields(summary);
    if !fields.is_empty() {
        section["fields"] = Value::Array(fields);
    }
    section
}

fn button(action: &str, text: &str, target: Target, style: Option<&str>) -> Value {
    let mut b = json!({
        "type": "button", "action_id": action, "text": plain(text, 75), "value": target.value(),
    });
    if let Some(style) = style {
        b["style"] = json!(style);
    }
    b
}

/// The message for notification `n` seen at `now`: headline, the lead's summary, the SLA,
/// and the buttons (Accept and Reject… only while the lead can still be decided; an accepted
/// lead's first-touch reminders offer Recycle… and Open). `lead_url` is the lead's page.
pub fn message(n: &Notification, now: DateTime<Utc>, lead_url: &str) -> Value {
    let target = Target {
        lead: n.lead_id,
        cycle: n.cycle,
    };
    let title = headline(n.kind);
    let summary = &n.payload;
    let mut blocks = vec![
        json!({"type": "header", "text": plain(title, 150)}),
        summary_section(summary),
    ];
    let due = summary["sla_due_at"]
        .as_str()
        .and_then(|s| s.parse::<DateTime<Utc>>().ok());
    if let Some(due) = due {
        let context = vec![mrkdwn(due_in(due, now))];
        blocks.push(json!({"type": "context", "elements": context}));
    }
    let accepted = matches!(
        n.kind,
        NotificationKind::FirstTouchDue | NotificationKind::FirstTouchMissed
    );
    let mut buttons = Vec::new();
    if !accepted {
        buttons.push(button(ACCEPT, "Accept", target, Some("primary")));
        buttons.push(button(REJECT, "Reject…", target, Some("danger")));
    }
    buttons.push(button(RECYCLE, "Recycle…", target, None));
    let mut open = button(OPEN, "Open", target, None);
    open["url"] = json!(lead_url);
    buttons.push(open);
    blocks.push(json!({"type": "actions", "block_id": "salgate_decide", "elements": buttons}));
    let name = text_of(summary, "name").unwrap_or_else(|| "a lead".into());
    json!({"text": format!("{title}: {}", esc(&name, 200)), "blocks": blocks})
}

/// What the message shows once decided: the outcome ("Accepted by Sam, 10:42") and the
/// lead's summary, without buttons but with the link to the lead.
pub fn decided(outcome: &str, by: &str, at: DateTime<Utc>, summary: &Value, url: &str) -> Value {
    let line = format!("*{outcome} by {}*, {}", esc(by, 200), slack_time(at));
    let link = format!("<{url}|Open in salgate>");
    json!({
        "text": format!("{outcome} by {}", esc(by, 200)),
        "blocks": [
            {"type": "section", "text": mrkdwn(line)},
            summary_section(summary),
            {"type": "context", "elements": [mrkdwn(link)]},
        ],
    })
}

/// A lead's summary, in the shape of a notification's payload, from its current view.
pub fn lead_summary(lead: &crate::views::lead::Lead) -> Value {
    let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let company = lead.company.clone().unwrap_or(Value::Null);
    json!({
        "name": if name.is_empty() { lead.email.clone() } else { Some(name) },
        "title": lead.title, "company": company["name"], "company_size": company["size"],
        "country": company["country"], "source": lead.source, "campaign": lead.campaign,
        "owner": lead.owner, "queue": lead.queue,
    })
}

/// Where a modal's decision goes once submitted: the lead and cycle, and the message to
/// update (`channel`, `ts`), carried in the view's `private_metadata`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModalContext {
    pub lead: Uuid,
    pub cycle: i32,
    pub channel: Option<String>,
    pub ts: Option<String>,
}

/// The Reject… (`recycle == false`) or Recycle… modal listing `codes` (code, label), the
/// live ones of the taxonomy.
pub fn modal(recycle: bool, codes: &[(String, String)], ctx: &ModalContext) -> Value {
    let (callback, title, submit, label, hint) = if recycle {
        let hint = "Required when recycling an accepted lead.";
        (
            RECYCLE_VIEW,
            "Recycle lead",
            "Recycle",
            "Recycle reason",
            hint,
        )
    } else {
        let hint = "Required for the code `other`.";
        (REJECT_VIEW, "Reject lead", "Reject", "Rejection code", hint)
    };
    let options: Vec<Value> = codes
        .iter()
        .take(MAX_OPTIONS)
        .map(|(code, label)| json!({"text": plain(label, 75), "value": code}))
        .collect();
    json!({
        "type": "modal",
        "callback_id": callback,
        "private_metadata": serde_json::to_string(ctx).unwrap_or_default(),
        "title": plain(title, 24),
        "submit": plain(submit, 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {"type": "input", "block_id": CODE_BLOCK, "label": plain(label, 2000),
             "element": {"type": "static_select", "action_id": CODE_BLOCK,
                         "placeholder": plain("Choose one", 150), "options": options}},
            {"type": "input", "block_id": NOTE_BLOCK, "optional": true,
             "label": plain("Note", 2000), "hint": plain(hint, 2000),
             "element": {"type": "plain_text_input", "action_id": NOTE_BLOCK,
                         "multiline": true, "max_length": 2000}},
        ],
    })
}

/// The chosen code and the note of a submitted modal's `view.state.values`.
pub fn submitted(values: &Value) -> (Option<String>, Option<String>) {
    let code = values[CODE_BLOCK][CODE_BLOCK]["selected_option"]["value"]
        .as_str()
        .map(str::to_string);
    let note = values[NOTE_BLOCK][NOTE_BLOCK]["value"]
        .as_str()
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string);
    (code, note)
}

#[cfg(test)]
#[path = "blocks_tests.rs"]
mod tests;
