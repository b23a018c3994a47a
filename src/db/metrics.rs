//! What a report covers (`Scope`, `GroupBy`) and the rows its figures come in. The figures themselves are counted in `service::metrics` over the
//! cycles `db::cycle_blocks::scan` reads; every figure counts cycles routed in `[from, to)`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::FromRow;

use crate::domain::metrics::Period;

/// What a report is grouped by (docs/api.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Source,
    Campaign,
    Channel,
    LeadType,
    Queue,
    Owner,
    /// The cycle's account (its id; the report names each account in `meta.account_names`).
    Account,
    /// `person` or `rule`: who made the gate decision ([`DecidedBy`]).
    DecidedBy,
    Time(Period),
}

/// Who made a cycle's gate decision: a rule (its history actor is `rule:<id>`), or a person.
/// An open cycle counts as a person's: rules decide at ingest, so what is still open waits
/// for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    Person,
    Rule,
}

impl DecidedBy {
    pub const NAMES: &'static str = "person, rule";

    pub fn parse(s: &str) -> Option<DecidedBy> {
        match s {
            "person" => Some(DecidedBy::Person),
            "rule" => Some(DecidedBy::Rule),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DecidedBy::Person => "person",
            DecidedBy::Rule => "rule",
        }
    }

    /// Who decided a cycle whose decision was (or was not) a rule's.
    pub fn of(by_rule: bool) -> DecidedBy {
        if by_rule {
            DecidedBy::Rule
        } else {
            DecidedBy::Person
        }
    }
}

impl GroupBy {
    pub const NAMES: &'static str =
        "source, campaign, channel, lead_type, queue, owner, account, decided_by, day, week, month";

    pub fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "source" => GroupBy::Source,
            "campaign" => GroupBy::Campaign,
            "channel" => GroupBy::Channel,
            "lead_type" => GroupBy::LeadType,
            "queue" => GroupBy::Queue,
            "owner" => GroupBy::Owner,
            "account" => GroupBy::Account,
            "decided_by" => GroupBy::DecidedBy,
            "day" => GroupBy::Time(Period::Day),
            "week" => GroupBy::Time(Period::Week),
            "month" => GroupBy::Time(Period::Month),
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Source => "source",
            GroupBy::Campaign => "campaign",
            GroupBy::Channel => "channel",
            GroupBy::LeadType => "lead_type",
            GroupBy::Queue => "queue",
            GroupBy::Owner => "owner",
            GroupBy::Account => "account",
            GroupBy::DecidedBy => "decided_by",
            GroupBy::Time(p) => p.unit(),
        }
    }
}

/// The cycles a report covers.
#[derive(Debug, Clone)]
pub struct Scope {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Day, week and month buckets are local to this zone.
    pub tz: Tz,
    pub source: Option<String>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub lead_type: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    /// An account's id, as text (the cycle's account is a symbol like the other fields).
    pub account: Option<String>,
    pub decided_by: Option<DecidedBy>,
}

impl Scope {
    pub fn with_range(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Scope {
        Scope {
            from,
            to,
            ..self.clone()
        }
    }
}

/// One row of the acceptance report.
#[derive(Debug, Clone, FromRow)]
pub struct AcceptanceRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub recycled: i64,
    pub open: i64,
    pub accepted_within_sla: i64,
    /// p50 and p90 of seconds from routing to the gate decision; NULL with no decisions.
    pub time_to_decision: Option<Vec<f64>>,
}

/// Rejections of one code in one group.
#[derive(Debug, Clone, FromRow)]
pub struct CodeCount {
    pub key: Option<String>,
    pub code: String,
    pub count: i64,
}

/// One row of the SLA report.
#[derive(Debug, Clone, FromRow)]
pub struct SlaRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub breached: i64,
    pub open_past_due: i64,
    pub first_touch_met: i64,
    pub first_touch_missed: i64,
    /// p50 and p90 of seconds from routing to the first touch; NULL with no touches.
    pub time_to_first_touch: Option<Vec<f64>>,
}

/// One row of the recycling report.
#[derive(Debug, Clone, FromRow)]
pub struct RecyclingRow {
    pub key: Option<String>,
    pub total: bool,
    pub routed: i64,
    pub recycled: i64,
    /// Recycled cycles whose lead was routed again later.
    pub rerouted: i64,
    /// Recycled cycles whose lead was accepted in a later cycle.
    pub accepted_later: i64,
}
