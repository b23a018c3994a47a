//! Notifications to people (docs/notifications.md): the `notifications` outbox rows as the
//! dispatcher (`jobs::notifier`) hands them to a transport, and the transports' contract. The
//! trigger `lead_history_notify` decides who hears what; a transport only delivers one row.

pub mod email;
pub mod message;
pub mod slack;

use std::{future::Future, pin::Pin, time::Duration};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A lead routed, assigned or reassigned to the recipient.
    Routed,
    /// A lead of the queue waiting with no owner.
    Unassigned,
    /// The accept deadline is near (a reminder to the owner).
    AtRisk,
    /// The accept deadline passed (the owner, and the queue's channel and list).
    Breached,
    /// Accepted: the first touch is due by `first_touch_due_at`.
    FirstTouchDue,
    /// Accepted and not touched by its first-touch deadline.
    FirstTouchMissed,
}

/// How a notification travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Slack,
    Email,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 6] = [
        Self::Routed,
        Self::Unassigned,
        Self::AtRisk,
        Self::Breached,
        Self::FirstTouchDue,
        Self::FirstTouchMissed,
    ];

    /// Its text in the `notifications.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routed => "routed",
            Self::Unassigned => "unassigned",
            Self::AtRisk => "at_risk",
            Self::Breached => "breached",
            Self::FirstTouchDue => "first_touch_due",
            Self::FirstTouchMissed => "first_touch_missed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Slack, Channel::Email];

    /// Its text in the `notifications.channel` column (and the metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One row of the `notifications` outbox as the dispatcher hands it to a transport.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: uuid::Uuid,
    /// The history entry that caused it (dedupe: one row per (event_id, channel, recipient)).
    pub event_id: uuid::Uuid,
    pub kind: NotificationKind,
    pub channel: Channel,
    /// A Slack user id or channel id, or an email address.
    pub recipient: String,
    pub lead_id: uuid::Uuid,
    pub cycle: i32,
    /// Attempts made before this one.
    pub attempts: i32,
    /// The lead summary at the time of the change: name, title, company, company_size,
    /// country, source, campaign, owner, queue, sla_due_at, and for breaches escalated_to (see
    /// docs/notifications.md for every key).
    pub payload: serde_json::Value,
}

/// What a transport made of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Stored on the row (Slack: "channel:ts", for a later chat.update).
    Sent { external_ref: Option<String> },
    /// E.g. Slack's 429 Retry-After: the next attempt exactly then.
    RetryAfter(Duration),
    /// Transient: retried with backoff.
    Failed(String),
    /// Permanent: marked dead, no more attempts.
    Rejected(String),
}

/// Sends notifications of one channel.
pub trait Transport: Send + Sync {
    fn deliver<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Delivered> + Send + 'a>>;
}
