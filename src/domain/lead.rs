//! The lead state machine (docs/api.md §2) as pure functions.
//!
//! `decide` answers "may this actor do this to a lead in this state, and what follows?";
//! `route` answers the same for an ingest. `Replay` folds a lead's history back into its state,
//! which is how tests prove the log and the row agree.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Actor, Role};

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

    /// The history `kind` written for this transition.
    pub fn history_kind(self) -> &'static str {
        self.target().as_str()
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

fn has_text(note: &Option<String>) -> bool {
    note.as_deref().is_some_and(|n| !n.trim().is_empty())
}

/// Decides `command` on a lead. Checks, in order: who may act (403), whether the transition
/// exists from the current state (409), and the input rules that depend on it (422).
pub fn decide(
    lead: LeadFacts<'_>,
    actor: &Actor,
    command: &Command,
    on_behalf_of: Option<&str>,
) -> Result<Decided, DecisionError> {
    let rep = match actor.role {
        Role::Sdr => {
            let own = actor.rep.as_deref().ok_or(DecisionError::Forbidden(
                "this sdr key is not bound to a rep",
            ))?;
            if on_behalf_of.is_some_and(|r| r != own) {
                return Err(DecisionError::Forbidden(
                    "an sdr key cannot act on behalf of another rep",
                ));
            }
            // The owner decides; while nobody owns it, any SDR of its queue may (and takes it).
            let may = lead.owner == Some(own) || (lead.owner.is_none() && lead.queue_member);
            if !may {
                return Err(DecisionError::Forbidden(
                    "this lead is not assigned to the rep of this key",
                ));
            }
            own.to_string()
        }
        Role::Revops | Role::Admin => match on_behalf_of {
            Some(rep) => rep.to_string(),
            None => {
                return Err(DecisionError::Invalid {
                    field: "on_behalf_of",
                    message: "revops and admin keys decide on behalf of a rep: name the rep",
                })
            }
        },
        Role::Ingest => return Err(DecisionError::Forbidden("ingest keys cannot decide leads")),
    };

    let action = command.action();
    if !lead.state.allowed_actions().contains(&action) {
        return Err(DecisionError::InvalidTransition {
            from: lead.state,
            action,
            allowed: lead.state.allowed_actions(),
        });
    }

    match command {
        Command::Reject { code, note } if code == "other" && !has_text(note) => {
            return Err(DecisionError::Invalid {
                field: "note",
                message: "a note is required when the code is `other`",
            })
        }
        Command::Recycle { note, .. } if lead.state == LeadState::Accepted && !has_text(note) => {
            return Err(DecisionError::Invalid {
                field: "note",
                message: "recycling an accepted lead reverses a decision and needs a note",
            })
        }
        _ => {}
    }

    Ok(Decided {
        action,
        from: lead.state,
        to: action.target(),
        rep,
    })
}

/// What an ingest of a lead does, given its current state (if it exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// A new lead: cycle 1.
    New,
    /// A rejected or recycled lead comes back: a new cycle.
    NewCycle,
    /// The lead is open or accepted: nothing changes.
    Unchanged,
}

pub fn route(current: Option<LeadState>) -> Routing {
    match current {
        None => Routing::New,
        Some(s) if s.allowed_actions().contains(&Action::Route) => Routing::NewCycle,
        Some(_) => Routing::Unchanged,
    }
}

/// The state a lead's history folds into. History entries are applied oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    pub state: Option<LeadState>,
    pub cycle: i32,
    pub owner: Option<String>,
}

impl Replay {
    /// Applies one history entry. Entries that are not transitions (events) leave the state be.
    /// Returns an error if the entry could not have happened from the replayed state.
    pub fn apply(&mut self, kind: &str, cycle: i32, rep: Option<&str>) -> Result<(), String> {
        let Some(to) = LeadState::parse(kind) else {
            return Ok(());
        };
        let legal = match (self.state, to) {
            (None, LeadState::Routed) => cycle == 1,
            (Some(from), LeadState::Routed) => {
                from.allowed_actions().contains(&Action::Route) && cycle == self.cycle + 1
            }
            (Some(from), to) => {
                from.allowed_actions().iter().any(|a| a.target() == to) && cycle == self.cycle
            }
            (None, _) => false,
        };
        if !legal {
            return Err(format!(
                "{kind} in cycle {cycle} cannot follow {:?} in cycle {}",
                self.state, self.cycle
            ));
        }
        self.state = Some(to);
        self.cycle = cycle;
        if let Some(rep) = rep {
            self.owner = Some(rep.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod table_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn sdr(rep: &str) -> Actor {
        Actor {
            role: Role::Sdr,
            rep: Some(rep.into()),
        }
    }
    fn revops() -> Actor {
        Actor {
            role: Role::Revops,
            rep: None,
        }
    }
    fn facts(state: LeadState, owner: Option<&str>) -> LeadFacts<'_> {
        LeadFacts {
            state,
            owner,
            queue_member: false,
        }
    }
    fn reject(code: &str, note: Option<&str>) -> Command {
        Command::Reject {
            code: code.into(),
            note: note.map(Into::into),
        }
    }
    fn recycle(note: Option<&str>) -> Command {
        Command::Recycle {
            reason: "not_ready".into(),
            note: note.map(Into::into),
        }
    }

    #[test]
    fn the_owner_sdr_accepts_a_routed_lead() {
        let d = decide(
            facts(LeadState::Routed, Some("r1")),
            &sdr("r1"),
            &Command::Accept,
            None,
        );
        assert_eq!(
            d,
            Ok(Decided {
                action: Action::Accept,
                from: LeadState::Routed,
                to: LeadState::Accepted,
                rep: "r1".into()
            })
        );
    }

    #[test]
    fn another_reps_sdr_is_forbidden_before_the_state_is_considered() {
        for state in LeadState::ALL {
            let d = decide(facts(state, Some("r1")), &sdr("r2"), &Command::Accept, None);
            assert!(matches!(d, Err(DecisionError::Forbidden(_))), "{state}");
        }
    }

    #[test]
    fn an_sdr_cannot_decide_an_unassigned_lead_or_for_someone_else() {
        let d = decide(
            facts(LeadState::Routed, None),
            &sdr("r1"),
            &Command::Accept,
            None,
        );
        assert!(matches!(d, Err(DecisionError::Forbidden(_))));
        let d = decide(
            facts(LeadState::Routed, Some("r1")),
            &sdr("r1"),
            &Command::Accept,
            Some("r2"),
        );
        assert!(matches!(d, Err(DecisionError::Forbidden(_))));
    }

    #[test]
    fn an_sdr_of_the_queue_may_decide_an_unassigned_lead_and_takes_it() {
        let mut f = facts(LeadState::Routed, None);
        f.queue_member = true;
        let d = decide(f, &sdr("r1"), &Command::Accept, None).unwrap();
        assert_eq!(d.rep, "r1");
        let mut owned = facts(LeadState::Routed, Some("r2"));
        owned.queue_member = true;
        let e = decide(owned, &sdr("r1"), &Command::Accept, None);
        assert!(
            matches!(e, Err(DecisionError::Forbidden(_))),
            "an owned lead is the owner's"
        );
    }

    #[test]
    fn revops_decides_on_behalf_of_a_rep_who_takes_ownership() {
        let d = decide(
            facts(LeadState::Routed, None),
            &revops(),
            &reject("duplicate", None),
            Some("r9"),
        )
        .unwrap();
        assert_eq!(d.rep, "r9");
        assert_eq!(d.to, LeadState::Rejected);
        let e = decide(
            facts(LeadState::Routed, None),
            &revops(),
            &Command::Accept,
            None,
        );
        assert!(matches!(
            e,
            Err(DecisionError::Invalid {
                field: "on_behalf_of",
                ..
            })
        ));
    }

    #[test]
    fn every_disallowed_transition_is_refused_with_the_allowed_ones_listed() {
        let commands = [
            Command::Accept,
            reject("duplicate", None),
            recycle(Some("n")),
        ];
        for state in LeadState::ALL {
            for c in &commands {
                let result = decide(facts(state, Some("r1")), &sdr("r1"), c, None);
                let allowed = state.allowed_actions().contains(&c.action());
                match result {
                    Ok(d) => assert!(allowed && d.to == c.action().target()),
                    Err(DecisionError::InvalidTransition {
                        from,
                        allowed: listed,
                        ..
                    }) => {
                        assert!(!allowed);
                        assert_eq!(from, state);
                        assert_eq!(listed, state.allowed_actions());
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        }
    }

    #[test]
    fn other_needs_a_note_and_so_does_reversing_an_accept() {
        let owner = facts(LeadState::Routed, Some("r1"));
        let e = decide(owner, &sdr("r1"), &reject("other", Some("  ")), None);
        assert!(matches!(
            e,
            Err(DecisionError::Invalid { field: "note", .. })
        ));
        assert!(decide(owner, &sdr("r1"), &reject("other", Some("spam")), None).is_ok());
        assert!(decide(owner, &sdr("r1"), &recycle(None), None).is_ok());
        let accepted = facts(LeadState::Accepted, Some("r1"));
        let e = decide(accepted, &sdr("r1"), &recycle(None), None);
        assert!(matches!(
            e,
            Err(DecisionError::Invalid { field: "note", .. })
        ));
        assert!(decide(accepted, &sdr("r1"), &recycle(Some("went dark")), None).is_ok());
    }

    #[test]
    fn ingest_keys_never_decide() {
        let ingest = Actor {
            role: Role::Ingest,
            rep: None,
        };
        let e = decide(
            facts(LeadState::Routed, None),
            &ingest,
            &Command::Accept,
            Some("r1"),
        );
        assert!(matches!(e, Err(DecisionError::Forbidden(_))));
    }

    #[test]
    fn routing_starts_new_cycles_only_from_closed_states() {
        assert_eq!(route(None), Routing::New);
        assert_eq!(route(Some(LeadState::Routed)), Routing::Unchanged);
        assert_eq!(route(Some(LeadState::Accepted)), Routing::Unchanged);
        assert_eq!(route(Some(LeadState::Rejected)), Routing::NewCycle);
        assert_eq!(route(Some(LeadState::Recycled)), Routing::NewCycle);
    }

    #[test]
    fn replay_refuses_an_impossible_history() {
        let mut r = Replay::default();
        assert!(r.apply("accepted", 1, Some("r1")).is_err());
        r.apply("routed", 1, None).unwrap();
        r.apply("rejected", 1, Some("r1")).unwrap();
        assert!(r.apply("accepted", 1, Some("r1")).is_err());
        assert!(
            r.apply("routed", 1, None).is_err(),
            "a re-route must open a new cycle"
        );
        r.apply("routed", 2, None).unwrap();
        assert_eq!(r.state, Some(LeadState::Routed));
    }
}
