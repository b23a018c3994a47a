//! SLA rules that need no I/O: a cycle's deadlines from its policy, and the status a lead
//! shows.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{
    working_time::{add_working, Calendar},
    LeadState,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnBreach {
    Notify,
    ReturnToQueue,
    Reassign,
}

impl OnBreach {
    pub fn parse(s: &str) -> Option<OnBreach> {
        match s {
            "notify" => Some(OnBreach::Notify),
            "return_to_queue" => Some(OnBreach::ReturnToQueue),
            "reassign" => Some(OnBreach::Reassign),
            _ => None,
        }
    }
}

/// A policy ready for arithmetic (its calendar resolved).
#[derive(Debug, Clone)]
pub struct Policy {
    /// The policy's key: a lead type or `default`.
    pub name: String,
    pub accept_within: Duration,
    pub first_touch_within: Duration,
    pub at_risk_ratio: f64,
    pub on_breach: OnBreach,
    /// `None` = 24×7.
    pub calendar: Option<Arc<Calendar>>,
}

/// The deadlines of one cycle, computed once at routing and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleDeadlines {
    pub due_at: DateTime<Utc>,
    pub at_risk_at: DateTime<Utc>,
}

impl Policy {
    pub fn deadlines(&self, routed_at: DateTime<Utc>) -> CycleDeadlines {
        let cal = self.calendar.as_deref();
        let at_risk_ms =
            (self.accept_within.num_milliseconds() as f64 * self.at_risk_ratio).round();
        CycleDeadlines {
            due_at: add_working(cal, routed_at, self.accept_within),
            at_risk_at: add_working(cal, routed_at, Duration::milliseconds(at_risk_ms as i64)),
        }
    }

    /// When the first touch is due for a lead accepted at `accepted_at`.
    pub fn first_touch_due(&self, accepted_at: DateTime<Utc>) -> DateTime<Utc> {
        add_working(
            self.calendar.as_deref(),
            accepted_at,
            self.first_touch_within,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlaStatus {
    /// Open, before the at-risk point.
    OnTrack,
    /// Open, past the at-risk point.
    AtRisk,
    /// Open, past the due time.
    Breached,
    /// Decided before the due time.
    Met,
    /// Decided after the due time.
    Missed,
}

/// What the status is computed from.
#[derive(Debug, Clone, Copy)]
pub struct SlaFacts {
    pub state: LeadState,
    pub due_at: DateTime<Utc>,
    pub at_risk_at: DateTime<Utc>,
    pub breached_at: Option<DateTime<Utc>>,
    /// When the cycle's decision was taken (accept, reject or recycle from routed).
    pub decided_at: Option<DateTime<Utc>>,
}

impl SlaStatus {
    pub fn parse(s: &str) -> Option<SlaStatus> {
        Some(match s {
            "on_track" => SlaStatus::OnTrack,
            "at_risk" => SlaStatus::AtRisk,
            "breached" => SlaStatus::Breached,
            "met" => SlaStatus::Met,
            "missed" => SlaStatus::Missed,
            _ => return None,
        })
    }

    /// The name the API and the SQL form (`lead_sla_status` in the migrations) use.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaStatus::OnTrack => "on_track",
            SlaStatus::AtRisk => "at_risk",
            SlaStatus::Breached => "breached",
            SlaStatus::Met => "met",
            SlaStatus::Missed => "missed",
        }
    }
}

pub fn status(f: SlaFacts, now: DateTime<Utc>) -> SlaStatus {
    match (f.state, f.decided_at) {
        (LeadState::Routed, _) | (_, None) => {
            if f.breached_at.is_some() || now >= f.due_at {
                SlaStatus::Breached
            } else if now >= f.at_risk_at {
                SlaStatus::AtRisk
            } else {
                SlaStatus::OnTrack
            }
        }
        (_, Some(at)) if at <= f.due_at => SlaStatus::Met,
        _ => SlaStatus::Missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn policy(hours: i64) -> Policy {
        Policy {
            name: "demo_request".into(),
            accept_within: Duration::hours(hours),
            first_touch_within: Duration::hours(4),
            at_risk_ratio: 0.75,
            on_breach: OnBreach::Notify,
            calendar: None,
        }
    }

    #[test]
    fn a_24x7_policy_puts_at_risk_at_three_quarters_of_the_window() {
        let d = policy(1).deadlines(t("2026-03-02T10:00:00Z"));
        assert_eq!(d.due_at, t("2026-03-02T11:00:00Z"));
        assert_eq!(d.at_risk_at, t("2026-03-02T10:45:00Z"));
        assert_eq!(
            policy(1).first_touch_due(t("2026-03-02T10:10:00Z")),
            t("2026-03-02T14:10:00Z")
        );
    }

    #[test]
    fn status_follows_the_clock_while_open_and_the_decision_time_after() {
        let f = SlaFacts {
            state: LeadState::Routed,
            due_at: t("2026-03-02T11:00:00Z"),
            at_risk_at: t("2026-03-02T10:45:00Z"),
            breached_at: None,
            decided_at: None,
        };
        assert_eq!(status(f, t("2026-03-02T10:00:00Z")), SlaStatus::OnTrack);
        assert_eq!(status(f, t("2026-03-02T10:45:00Z")), SlaStatus::AtRisk);
        assert_eq!(status(f, t("2026-03-02T11:00:00Z")), SlaStatus::Breached);
        let accepted = SlaFacts {
            state: LeadState::Accepted,
            decided_at: Some(t("2026-03-02T10:59:59Z")),
            ..f
        };
        assert_eq!(status(accepted, t("2026-03-09T00:00:00Z")), SlaStatus::Met);
        let late = SlaFacts {
            state: LeadState::Rejected,
            decided_at: Some(t("2026-03-02T11:00:01Z")),
            breached_at: Some(t("2026-03-02T11:00:00Z")),
            ..f
        };
        assert_eq!(status(late, t("2026-03-02T11:00:02Z")), SlaStatus::Missed);
    }
}
