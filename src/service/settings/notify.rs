//! Who hears what (docs/notifications.md): the notification fields of a rep and a queue.
//! These fields keep their stored value when a body leaves them out (or sends null), so a
//! form that does not show them (the settings pages) never clears them; `""` (or `[]` for
//! the list) clears one.

use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    db::routing::{Queue, QueueNotifications, QueueNotify, Rep},
    domain::body::{Check, Field},
};

/// Body of a queue's `notifications`: each kind on (`true`) or off; a kind left out keeps its
/// setting (new queues: on).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NotificationsInput {
    #[schema(value_type = Option<bool>)]
    pub routed: Field,
    #[schema(value_type = Option<bool>)]
    pub unassigned: Field,
    #[schema(value_type = Option<bool>)]
    pub at_risk: Field,
    #[schema(value_type = Option<bool>)]
    pub breached: Field,
    #[schema(value_type = Option<bool>)]
    pub first_touch: Field,
}

/// The most addresses a queue's list may hold.
const MAX_EMAILS: usize = 50;

/// A Slack id (`U…`, `C…`) or channel name: no spaces, at most 80 characters.
fn slack_id(f: &mut Check, key: &str, v: Field, stored: Option<&str>) -> Option<String> {
    let Some(Value::String(_)) = v.get() else {
        if v.get().is_some() {
            f.error(key, "must be a Slack id string, or \"\" to clear");
        }
        return stored.map(str::to_string);
    };
    let s = f.opt_str(key, v, 80)?;
    if s.chars().any(char::is_whitespace) {
        f.error(key, "must be a Slack id such as U024BE7LH or C024BE91L");
        return None;
    }
    Some(s)
}

/// A rep's `slack_user_id`.
pub fn rep_slack_user_id(f: &mut Check, v: Field, stored: Option<&Rep>) -> Option<String> {
    slack_id(
        f,
        "slack_user_id",
        v,
        stored.and_then(|r| r.slack_user_id.as_deref()),
    )
}

/// A queue's `slack_channel`, `notify_emails` and `notifications`.
pub fn queue_notify(
    f: &mut Check,
    slack_channel: Field,
    notify_emails: Field,
    notifications: Field,
    stored: Option<&Queue>,
) -> QueueNotify {
    QueueNotify {
        slack_channel: slack_id(
            f,
            "slack_channel",
            slack_channel,
            stored.and_then(|q| q.slack_channel.as_deref()),
        ),
        notify_emails: emails(f, notify_emails, stored),
        notifications: switches(f, notifications, stored),
    }
}

fn emails(f: &mut Check, v: Field, stored: Option<&Queue>) -> Vec<String> {
    let list = match v.get() {
        None => return stored.map(|q| q.notify_emails.clone()).unwrap_or_default(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            f.error("notify_emails", "must be a list of email addresses");
            return Vec::new();
        }
    };
    if list.len() > MAX_EMAILS {
        f.error("notify_emails", format!("at most {MAX_EMAILS} addresses"));
    }
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(a) if a.parse::<lettre::Address>().is_ok() && a.len() <= 320 => {
                out.push(a.to_string())
            }
            _ => f.error(
                "notify_emails",
                format!("notify_emails[{i}] must be an email address"),
            ),
        }
    }
    out.sort();
    out.dedup();
    out
}

fn switches(f: &mut Check, v: Field, stored: Option<&Queue>) -> QueueNotifications {
    let mut out = stored.map(|q| q.notifications).unwrap_or_default();
    let Some((input, mut child)) = f.child::<NotificationsInput>("notifications", v) else {
        return out;
    };
    let NotificationsInput {
        routed,
        unassigned,
        at_risk,
        breached,
        first_touch,
    } = input;
    for (key, field, slot) in [
        ("routed", routed, &mut out.routed),
        ("unassigned", unassigned, &mut out.unassigned),
        ("at_risk", at_risk, &mut out.at_risk),
        ("breached", breached, &mut out.breached),
        ("first_touch", first_touch, &mut out.first_touch),
    ] {
        if let Some(b) = child.opt_bool(key, field) {
            *slot = b;
        }
    }
    f.finish_child(child);
    out
}

impl crate::service::Service {
    /// The newest notifications matching `filter` (the deliveries list).
    pub async fn notifications(
        &self,
        filter: &crate::db::notifications::Filter<'_>,
        limit: i64,
    ) -> crate::service::Result<Vec<crate::db::notifications::Listed>> {
        use crate::db::notifications::list;
        let read = self.read(|pool| async move { Ok(list(&pool, filter, limit).await?) });
        Ok(read.await?.0)
    }
}
