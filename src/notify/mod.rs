//! Notifications to reps where they work (issue 17). This file is the seam between the outbox
//! and its transports: the dispatcher hands each row to a [`Transport`].

pub mod slack;

/// Why a lead is being notified about (serde snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Routed,
    Unassigned,
    AtRisk,
    Breached,
    FirstTouchDue,
    FirstTouchMissed,
}

/// How a notification reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Slack,
    Email,
}

/// One row of the `notifications` outbox as the dispatcher hands it to a transport.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub kind: NotificationKind,
    pub channel: Channel,
    /// A Slack user id or channel id, or an email address.
    pub recipient: String,
    pub lead_id: uuid::Uuid,
    pub cycle: i32,
    pub attempts: i32,
    /// The lead's summary at the time of the change: name, title, company, company_size,
    /// country, source, campaign, owner, queue, sla_due_at, and for breaches escalated_to.
    pub payload: serde_json::Value,
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Stored on the row (Slack: `channel:ts`, for a later `chat.update`).
    Sent { external_ref: Option<String> },
    /// Slack's 429 with its `Retry-After`.
    RetryAfter(std::time::Duration),
    /// Transient: the dispatcher retries with backoff.
    Failed(String),
    /// Permanent (e.g. `channel_not_found`, `invalid_auth`): dead.
    Rejected(String),
}

pub trait Transport: Send + Sync {
    fn deliver<'a>(
        &'a self,
        n: &'a Notification,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Delivered> + Send + 'a>>;
}
