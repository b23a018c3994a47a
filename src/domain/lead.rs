//! The lead state machine (docs/api.md §2) as pure functions.
//!
//! `decide` answers "may this actor do this to a lead in this state, and what follows?";
//! `route` answers the same for an ingest (both in `lead/decide.rs`). `Replay` (`lead/replay.rs`)
//! folds a lead's history back into its state, which is how tests prove the log and the row agree.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadState {
    Routed,
    Accepted,
    Rejected,
    Recycled,
}

impl LeadState {
    pub const ALL: [LeadState; 4] = [
        LeadState::Routed,
        LeadState::Accepted,
        LeadState::Rejected,
        LeadState::Recycled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadState::Routed => "routed",
            LeadState::Accepted => "accepted",
            LeadState::Rejected => "rejected",
            LeadState::Recycled => "recycled",
        }
    }

    pub fn parse(s: &str) -> Option<LeadState> {
        LeadState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The transitions docs/api.md §2 allows out of this state.
    pub fn allowed_actions(self) -> &'static [Action] {
        match self {
            LeadState::Routed => &[Action::Accept, Action::Reject, Action::Recycle],
            LeadState::Accepted => &[Action::Recycle],
            LeadState::Rejected | LeadState::Recycled => &[Action::Route],
        }
    }
}

/// A transition, named by the verb that causes it. Also the `kind` of its history entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Route,
    Accept,
    Reject,
    Recycle,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Route => "route",
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::Recycle => "recycle",
        }
    }

    pub fn target(self) -> LeadState {
        match self {
            Action::Route => LeadState::Routed,
            Action::Accept => LeadState::Accepted,
            Action::Reject => LeadState::Rejected,
            Action::Recycle => LeadState::Recycled,
        }
    }
}

/// A decision an SDR (or RevOps for a rep) takes on a routed or accepted lead. Codes are
/// already known to exist and be active: that check needs the database and happens outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Accept,
    Reject {
        code: String,
        note: Option<String>,
    },
    Recycle {
        reason: String,
        note: Option<String>,
    },
}

impl Command {
    pub fn action(&self) -> Action {
        match self {
            Command::Accept => Action::Accept,
            Command::Reject { .. } => Action::Reject,
            Command::Recycle { .. } => Action::Recycle,
        }
    }
}

/// What the domain needs to know about the lead to decide.
#[derive(Debug, Clone, Copy)]
pub struct LeadFacts<'a> {
    pub state: LeadState,
    pub owner: Option<&'a str>,
    /// The acting SDR's rep belongs to the lead's queue (matters while the lead is unassigned).
    pub queue_member: bool,
}

/// The outcome of an allowed decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub action: Action,
    pub from: LeadState,
    pub to: LeadState,
    /// The rep the decision is recorded for (`accepted_by`, `rejected_by`, …); it becomes the
    /// owner of the lead.
    pub rep: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("cannot {action} a lead that is {from}")]
    InvalidTransition {
        from: LeadState,
        action: Action,
        allowed: &'static [Action],
    },
    /// A rule on the input that depends on the transition (e.g. a note to reverse an accept).
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
}

impl std::fmt::Display for LeadState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

mod decide;
mod replay;

pub use decide::{decide, route, Routing};
pub use replay::Replay;

#[cfg(test)]
mod table_tests;

#[cfg(test)]
mod tests;
