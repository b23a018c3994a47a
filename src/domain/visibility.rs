//! Who may see a lead (docs/api.md §4): revops and admin keys see every lead; an SDR key sees
//! its rep's leads and the unassigned leads of the queues its rep belongs to; an ingest key
//! sees none. `db::visibility` holds the same rule as SQL for lists, and a test checks the two
//! agree case by case.

use super::{Actor, Role};

/// What the rule needs to know about a lead.
#[derive(Debug, Clone, Copy)]
pub struct Audience<'a> {
    pub owner: Option<&'a str>,
    /// The actor's rep is a member of the lead's queue (false when the lead has no queue).
    pub rep_in_queue: bool,
}

/// Whether `actor` may see the lead.
pub fn may_see(actor: &Actor, lead: Audience<'_>) -> bool {
    match actor.role {
        Role::Revops | Role::Admin => true,
        // The database holds every SDR key to a rep; one without would see nothing.
        Role::Sdr => actor.rep.as_deref().is_some_and(|rep| {
            lead.owner == Some(rep) || (lead.owner.is_none() && lead.rep_in_queue)
        }),
        Role::Ingest => false,
    }
}

/// Whether seeing a lead depends on its queue's members (only then is membership looked up).
pub fn needs_membership(actor: &Actor, owner: Option<&str>, queue: Option<&str>) -> bool {
    actor.role == Role::Sdr && actor.rep.is_some() && owner.is_none() && queue.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, rep: Option<&str>) -> Actor {
        Actor {
            role,
            rep: rep.map(str::to_string),
        }
    }

    fn lead(owner: Option<&str>, rep_in_queue: bool) -> Audience<'_> {
        Audience {
            owner,
            rep_in_queue,
        }
    }

    #[test]
    fn an_sdr_sees_its_own_leads_and_the_unassigned_leads_of_its_queues_only() {
        let sdr = actor(Role::Sdr, Some("ada"));
        assert!(may_see(&sdr, lead(Some("ada"), false)));
        assert!(may_see(&sdr, lead(Some("ada"), true)));
        assert!(may_see(&sdr, lead(None, true)));
        assert!(!may_see(&sdr, lead(None, false)));
        assert!(!may_see(&sdr, lead(Some("bob"), true)));
        assert!(!may_see(&sdr, lead(Some("bob"), false)));
    }

    #[test]
    fn managers_see_everything_and_ingest_keys_nothing() {
        for role in [Role::Revops, Role::Admin] {
            assert!(may_see(&actor(role, None), lead(Some("bob"), false)));
            assert!(may_see(&actor(role, None), lead(None, false)));
        }
        assert!(!may_see(&actor(Role::Ingest, None), lead(None, true)));
        assert!(!may_see(&actor(Role::Sdr, None), lead(None, true)));
    }

    #[test]
    fn membership_matters_only_for_an_sdr_and_an_unassigned_lead_in_a_queue() {
        let sdr = actor(Role::Sdr, Some("ada"));
        assert!(needs_membership(&sdr, None, Some("emea")));
        assert!(!needs_membership(&sdr, Some("ada"), Some("emea")));
        assert!(!needs_membership(&sdr, None, None));
        assert!(!needs_membership(
            &actor(Role::Revops, None),
            None,
            Some("emea")
        ));
    }
}
