//! Examples of the state machine's rules, one rule per test.

use super::*;
use crate::domain::{Actor, Role};

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
