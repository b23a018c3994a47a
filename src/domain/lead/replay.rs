//! Folding a lead's history back into its state.

use super::{Action, LeadState};

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
