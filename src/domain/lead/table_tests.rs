//! The state machine against docs/api.md §2's transition table written out here as a literal, not
//! against `allowed_actions()`: every single decision (all states, owned or unassigned, every
//! actor, command and note) exhaustively, and random lives of a lead with proptest.

use proptest::prelude::*;

use super::*;
use crate::domain::{Actor, Role};

/// "allowed actor" of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum May {
    Ingest,
    /// Owner SDR; an SDR of the lead's queue when unassigned; revops/admin with `on_behalf_of`.
    Deciders,
    /// Owner or revops/admin (with `on_behalf_of`).
    OwnerOrRevops,
}

/// "required input" of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Needs {
    Nothing,
    /// `code`; a `note` when the code is `other`.
    CodeNoteIfOther,
    Reason,
    /// `reason` and a non-empty `note`.
    ReasonAndNote,
}

/// docs/api.md §2: from (None = a new lead) → to, allowed actor, required input.
const TABLE: [(Option<&str>, &str, May, Needs); 7] = [
    (None, "routed", May::Ingest, Needs::Nothing),
    (Some("routed"), "accepted", May::Deciders, Needs::Nothing),
    (
        Some("routed"),
        "rejected",
        May::Deciders,
        Needs::CodeNoteIfOther,
    ),
    (Some("routed"), "recycled", May::Deciders, Needs::Reason),
    (
        Some("accepted"),
        "recycled",
        May::OwnerOrRevops,
        Needs::ReasonAndNote,
    ),
    (Some("rejected"), "routed", May::Ingest, Needs::Nothing),
    (Some("recycled"), "routed", May::Ingest, Needs::Nothing),
];

/// A decision's outcome in the oracle's terms.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    To {
        to: String,
        rep: String,
    },
    Forbidden,
    Invalid(&'static str),
    /// 409, listing the states the table allows out of this one.
    Transition(Vec<String>),
}

fn observed(r: Result<Decided, DecisionError>) -> Expect {
    match r {
        Ok(d) => Expect::To {
            to: d.to.as_str().into(),
            rep: d.rep,
        },
        Err(DecisionError::Forbidden(_)) => Expect::Forbidden,
        Err(DecisionError::Invalid { field, .. }) => Expect::Invalid(field),
        Err(DecisionError::InvalidTransition { allowed, .. }) => {
            Expect::Transition(allowed.iter().map(|a| a.target().as_str().into()).collect())
        }
    }
}

fn has_text(note: Option<&str>) -> bool {
    note.is_some_and(|n| !n.trim().is_empty())
}

/// What the table says of `command` by `actor` on a lead in `from`. Precedence (the table does
/// not say; `decide` documents it): who acts (403, or 422 `on_behalf_of` for revops without a
/// rep), then the transition (409), then the input (422 `note`).
fn expected(
    from: &str,
    owner: Option<&str>,
    queue_member: bool,
    actor: &Actor,
    command: &Command,
    behalf: Option<&str>,
) -> Expect {
    let to = match command {
        Command::Accept => "accepted",
        Command::Reject { .. } => "rejected",
        Command::Recycle { .. } => "recycled",
    };
    let row = TABLE
        .iter()
        .find(|r| r.0 == Some(from) && r.1 == to && r.2 != May::Ingest);
    let sdr_may = |own: &str| match row.map(|r| r.2) {
        Some(May::OwnerOrRevops) => owner == Some(own),
        _ => owner == Some(own) || (owner.is_none() && queue_member),
    };
    let rep = match (actor.role, actor.rep.as_deref(), behalf) {
        (Role::Ingest, _, _) | (Role::Sdr, None, _) => return Expect::Forbidden,
        (Role::Sdr, Some(own), b) if b.is_some_and(|b| b != own) || !sdr_may(own) => {
            return Expect::Forbidden
        }
        (Role::Sdr, Some(own), _) => own,
        (_, _, None) => return Expect::Invalid("on_behalf_of"),
        (_, _, Some(rep)) => rep,
    };
    let Some(&(_, _, _, needs)) = row else {
        let allowed = TABLE.iter().filter(|r| r.0 == Some(from));
        return Expect::Transition(allowed.map(|r| r.1.to_string()).collect());
    };
    let bad_note = match (needs, command) {
        (Needs::CodeNoteIfOther, Command::Reject { code, note }) => {
            code == "other" && !has_text(note.as_deref())
        }
        (Needs::ReasonAndNote, Command::Recycle { note, .. }) => !has_text(note.as_deref()),
        _ => false,
    };
    if bad_note {
        return Expect::Invalid("note");
    }
    Expect::To {
        to: to.into(),
        rep: rep.into(),
    }
}

/// What the table says an ingest does to a lead in `from`: a row from it to `routed` by ingest
/// is a new lead or a new cycle; otherwise (open or accepted, docs/api.md §2) nothing changes.
fn expected_route(from: Option<&str>) -> Routing {
    let row = TABLE
        .iter()
        .any(|r| r.0 == from && r.1 == "routed" && r.2 == May::Ingest);
    match (row, from) {
        (true, None) => Routing::New,
        (true, Some(_)) => Routing::NewCycle,
        (false, _) => Routing::Unchanged,
    }
}

const OWNERS: [Option<&str>; 3] = [Some("r1"), Some("r2"), None];
const BEHALF: [Option<&str>; 3] = [None, Some("r1"), Some("r3")];
const NOTES: [Option<&str>; 3] = [None, Some("  "), Some("because")];

fn actor(i: usize) -> Actor {
    let (role, rep) = [
        (Role::Sdr, Some("r1")),
        (Role::Sdr, Some("r2")),
        (Role::Sdr, None),
        (Role::Revops, None),
        (Role::Admin, None),
        (Role::Ingest, None),
    ][i % 6];
    Actor {
        role,
        rep: rep.map(Into::into),
    }
}

fn command(i: usize, note: Option<&str>) -> Command {
    let note = note.map(Into::into);
    match i % 4 {
        0 => Command::Accept,
        1 => Command::Reject {
            code: "duplicate".into(),
            note,
        },
        2 => Command::Reject {
            code: "other".into(),
            note,
        },
        _ => Command::Recycle {
            reason: "not_ready".into(),
            note,
        },
    }
}

#[test]
fn every_single_decision_is_what_the_table_says() {
    for state in LeadState::ALL {
        // An accepted lead always has an owner: accepting takes ownership.
        let owners = OWNERS
            .iter()
            .filter(|o| state != LeadState::Accepted || o.is_some());
        for (owner, queue_member) in owners.flat_map(|o| [(*o, false), (*o, true)]) {
            for (a, c, note, behalf) in (0..6).flat_map(|a| {
                (0..4).flat_map(move |c| {
                    NOTES
                        .iter()
                        .flat_map(move |n| BEHALF.iter().map(move |b| (a, c, *n, *b)))
                })
            }) {
                let (actor, command) = (actor(a), command(c, note));
                let facts = LeadFacts {
                    state,
                    owner,
                    queue_member,
                };
                let want = expected(
                    state.as_str(),
                    owner,
                    queue_member,
                    &actor,
                    &command,
                    behalf,
                );
                let got = observed(decide(facts, &actor, &command, behalf));
                assert_eq!(
                    got, want,
                    "{facts:?} {actor:?} {command:?} on behalf of {behalf:?}"
                );
            }
        }
    }
}

#[test]
fn every_ingest_is_what_the_table_says() {
    let states = LeadState::ALL.map(Some);
    for from in [None].into_iter().chain(states) {
        assert_eq!(
            route(from),
            expected_route(from.map(LeadState::as_str)),
            "{from:?}"
        );
    }
}

/// One step in a random life of a lead.
#[derive(Debug, Clone)]
enum Op {
    /// An MQL, owned by r1 or by nobody yet (its queue decides).
    Ingest { owned: bool },
    Decide {
        actor: usize,
        command: usize,
        note: usize,
        behalf: usize,
        queue_member: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(|owned| Op::Ingest { owned }),
        (0..6usize, 0..4usize, 0..3usize, 0..3usize, any::<bool>()).prop_map(
            |(actor, command, note, behalf, queue_member)| Op::Decide {
                actor,
                command,
                note,
                behalf,
                queue_member
            }
        ),
    ]
}

/// The lead as the table moves it: state name, cycle, owner, history.
#[derive(Debug, Default)]
struct Model {
    state: Option<&'static str>,
    cycle: i32,
    owner: Option<String>,
    history: Vec<(String, i32, Option<String>)>,
}

impl Model {
    fn ingest(&mut self, owned: bool) {
        let route = route(self.state.and_then(LeadState::parse));
        assert_eq!(route, expected_route(self.state));
        if route != Routing::Unchanged {
            self.state = Some("routed");
            self.cycle += 1;
            self.owner = owned.then(|| "r1".into());
            self.history
                .push(("routed".into(), self.cycle, self.owner.clone()));
        }
    }
}

proptest! {
    #[test]
    fn random_lives_follow_the_table_and_replay_to_the_row(ops in prop::collection::vec(op(), 0..60)) {
        let mut m = Model::default();
        for op in ops {
            let Op::Decide { actor: a, command: c, note, behalf, queue_member } = op else {
                if let Op::Ingest { owned } = op { m.ingest(owned) }
                continue;
            };
            let Some(from) = m.state else { continue };
            let (actor, command, behalf) = (actor(a), command(c, NOTES[note]), BEHALF[behalf]);
            let facts = LeadFacts {
                state: LeadState::parse(from).unwrap(),
                owner: m.owner.as_deref(),
                queue_member,
            };
            let want = expected(from, m.owner.as_deref(), queue_member, &actor, &command, behalf);
            prop_assert_eq!(observed(decide(facts, &actor, &command, behalf)), want.clone());
            if let Expect::To { to, rep } = want {
                m.state = TABLE.iter().map(|r| r.1).find(|s| *s == to);
                m.owner = Some(rep.clone());
                m.history.push((to, m.cycle, Some(rep)));
            }
        }
        let mut replay = Replay::default();
        for (kind, cycle, rep) in &m.history {
            prop_assert!(replay.apply(kind, *cycle, rep.as_deref()).is_ok(), "{:?}", m.history);
        }
        prop_assert_eq!(replay.state.map(LeadState::as_str), m.state);
        prop_assert_eq!(replay.cycle, m.cycle);
        // Replay keeps the last rep named (an unassigned re-route names none).
        if m.owner.is_some() {
            prop_assert_eq!(replay.owner, m.owner);
        }
    }
}

/// The names the API shows for states and transitions (docs/api.md §2: a lead's `state`,
/// `allowed_transitions`, a history entry's `kind`), written out here: `as_str`, `Display` and
/// serde agree with them.
#[test]
fn states_and_actions_have_their_documented_names() {
    let states = [
        (LeadState::Routed, "routed"),
        (LeadState::Accepted, "accepted"),
        (LeadState::Rejected, "rejected"),
        (LeadState::Recycled, "recycled"),
    ];
    for (state, name) in states {
        assert_eq!(state.as_str(), name);
        assert_eq!(state.to_string(), name);
        assert_eq!(serde_json::to_value(state).unwrap(), name);
        assert_eq!(LeadState::parse(name), Some(state));
    }
    let actions = [
        (Action::Route, "route"),
        (Action::Accept, "accept"),
        (Action::Reject, "reject"),
        (Action::Recycle, "recycle"),
    ];
    for (action, name) in actions {
        assert_eq!(action.as_str(), name);
        assert_eq!(action.to_string(), name);
        assert_eq!(serde_json::to_value(action).unwrap(), name);
    }
}
