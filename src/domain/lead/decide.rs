//! The decision and ingest rules of the state machine (docs/api.md §2).

use super::{Action, Command, Decided, DecisionError, LeadFacts, LeadState};
use crate::domain::{Actor, Role};

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
