//! Who gets a lead (docs/api.md §4), as pure functions over a snapshot of the queue's members.

use chrono::{DateTime, Utc};

/// How a queue picks an owner; stored as the text `as_str` gives (`queues.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    RoundRobin,
    LeastLoaded,
    /// Nobody is assigned: SDRs pull leads with `claim`.
    Claim,
}

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::RoundRobin, Strategy::LeastLoaded, Strategy::Claim];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
            Strategy::Claim => "claim",
        }
    }

    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member of the queue as it stands inside the assigning transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub active: bool,
    pub away_until: Option<DateTime<Utc>>,
    pub capacity: Option<i32>,
    /// Routed leads it owns now.
    pub open: i64,
}

impl Candidate {
    /// Active, not away, under capacity.
    pub fn eligible(&self, now: DateTime<Utc>) -> bool {
        self.active
            && self.away_until.is_none_or(|t| t <= now)
            && self.capacity.is_none_or(|c| self.open < i64::from(c))
    }
}

/// The pick and the queue's next round-robin position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    pub rep: String,
    pub rr_next: i64,
}

/// The members that may be given a lead now, in the queue's (id) order: eligible and not in
/// `exclude`.
pub fn eligible<'a>(
    candidates: &'a [Candidate],
    now: DateTime<Utc>,
    exclude: &[String],
) -> Vec<&'a Candidate> {
    candidates
        .iter()
        .filter(|c| c.eligible(now) && !exclude.contains(&c.id))
        .collect()
}

/// Round robin's choice, the one rule (its SQL form, `round_robin_pick` in the migrations, is
/// tested against it): turn `turn` goes to the eligible rep at that position counting round,
/// so with a stable set of N eligible reps every N consecutive turns go once to each.
pub fn round_robin<T>(eligible: &[T], turn: i64) -> Option<&T> {
    let n = i64::try_from(eligible.len()).ok().filter(|n| *n > 0)?;
    eligible.get(usize::try_from(turn.rem_euclid(n)).ok()?)
}

/// The escalation ladder's next rung (docs/api.md §4): the first member after `current` in the
/// queue's order (round to the start) that is eligible and not yet `tried`; from the start when
/// `current` is none or not a member.
pub fn next_in_queue<'a>(
    candidates: &'a [Candidate],
    current: Option<&str>,
    now: DateTime<Utc>,
    tried: &[String],
) -> Option<&'a Candidate> {
    let start = current
        .and_then(|o| candidates.iter().position(|c| c.id == o))
        .map_or(0, |i| i + 1);
    let (before, from) = candidates.split_at(start.min(candidates.len()));
    from.iter()
        .chain(before)
        .find(|c| c.eligible(now) && !tried.contains(&c.id))
}

/// Picks a rep among `candidates` (ordered by id) that is eligible and not in `exclude`.
/// Round robin takes [`round_robin`]'s choice for turn `rr_next` and advances it by one.
pub fn pick(
    strategy: Strategy,
    candidates: &[Candidate],
    rr_next: i64,
    now: DateTime<Utc>,
    exclude: &[String],
) -> Option<Pick> {
    let eligible = eligible(candidates, now, exclude);
    let chosen = match strategy {
        Strategy::Claim => return None,
        Strategy::RoundRobin => *round_robin(&eligible, rr_next)?,
        Strategy::LeastLoaded => *eligible.iter().min_by_key(|c| (c.open, &c.id))?,
    };
    Some(Pick {
        rep: chosen.id.clone(),
        rr_next: if strategy == Strategy::RoundRobin {
            rr_next + 1
        } else {
            rr_next
        },
    })
}

/// [`pick`], passing over the reps in `avoid` (those who already decided the lead in earlier
/// cycles) while anyone else eligible is left; only then does one of them get it again.
pub fn pick_avoiding(
    strategy: Strategy,
    candidates: &[Candidate],
    rr_next: i64,
    now: DateTime<Utc>,
    exclude: &[String],
    avoid: &[String],
) -> Option<Pick> {
    if avoid.is_empty() {
        return pick(strategy, candidates, rr_next, now, exclude);
    }
    let both: Vec<String> = exclude.iter().chain(avoid).cloned().collect();
    pick(strategy, candidates, rr_next, now, &both)
        .or_else(|| pick(strategy, candidates, rr_next, now, exclude))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{any, prop, prop_assert, prop_assert_eq, proptest};

    fn now() -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse().unwrap()
    }

    fn rep(id: &str, open: i64) -> Candidate {
        Candidate {
            id: id.into(),
            active: true,
            away_until: None,
            capacity: None,
            open,
        }
    }

    #[test]
    fn round_robin_cycles_through_the_eligible_reps() {
        let reps = [rep("a", 0), rep("b", 0), rep("c", 0)];
        let picks: Vec<String> = (0..6)
            .map(|i| {
                pick(Strategy::RoundRobin, &reps, i, now(), &[])
                    .unwrap()
                    .rep
            })
            .collect();
        assert_eq!(picks, ["a", "b", "c", "a", "b", "c"]);
    }

    #[test]
    fn inactive_away_and_full_reps_are_skipped() {
        let mut inactive = rep("a", 0);
        inactive.active = false;
        let mut away = rep("b", 0);
        away.away_until = Some(now() + chrono::Duration::hours(1));
        let mut full = rep("c", 2);
        full.capacity = Some(2);
        let mut back = rep("d", 0);
        back.away_until = Some(now());
        let reps = [inactive, away, full, back];
        for i in 0..4 {
            assert_eq!(
                pick(Strategy::RoundRobin, &reps, i, now(), &[])
                    .unwrap()
                    .rep,
                "d"
            );
        }
        assert_eq!(
            pick(Strategy::LeastLoaded, &reps, 0, now(), &[])
                .unwrap()
                .rep,
            "d"
        );
        assert_eq!(
            pick(Strategy::LeastLoaded, &reps, 0, now(), &["d".into()]),
            None
        );
    }

    #[test]
    fn the_ladder_takes_the_next_untried_eligible_member_after_the_owner_round_to_the_start() {
        let mut away = rep("c", 0);
        away.away_until = Some(now() + chrono::Duration::hours(1));
        let reps = [rep("a", 0), rep("b", 0), away, rep("d", 0)];
        let next = |owner: Option<&str>, tried: &[&str]| {
            let tried: Vec<String> = tried.iter().map(|t| t.to_string()).collect();
            next_in_queue(&reps, owner, now(), &tried).map(|c| c.id.as_str())
        };
        assert_eq!(next(Some("a"), &["a"]), Some("b"));
        assert_eq!(next(Some("b"), &["b"]), Some("d"), "after the owner, not a");
        assert_eq!(next(Some("b"), &["a", "b"]), Some("d"), "c is away");
        assert_eq!(next(Some("d"), &["d"]), Some("a"), "round to the start");
        assert_eq!(next(Some("d"), &["d", "a"]), Some("b"));
        assert_eq!(
            next(Some("x"), &["x"]),
            Some("a"),
            "not a member: the start"
        );
        assert_eq!(next(None, &["a"]), Some("b"));
        assert_eq!(next(Some("b"), &["a", "b", "d"]), None);
        assert_eq!(next_in_queue(&[], Some("a"), now(), &[]), None);
    }

    #[test]
    fn claim_queues_assign_nobody() {
        assert_eq!(pick(Strategy::Claim, &[rep("a", 0)], 0, now(), &[]), None);
    }

    proptest! {
        #[test]
        fn earlier_deciders_get_the_lead_only_when_nobody_else_is_eligible(
            reps in prop::collection::vec((any::<bool>(), 0i64..3, any::<bool>()), 1..7),
            round_robin in any::<bool>(),
            turn in 0i64..20,
        ) {
            let avoid: Vec<String> = (0..reps.len()).filter(|i| reps[*i].2).map(|i| format!("r{i}")).collect();
            let reps: Vec<Candidate> = reps.into_iter().enumerate().map(|(i, (active, open, _))| Candidate {
                id: format!("r{i}"), active, away_until: None, capacity: None, open,
            }).collect();
            let strategy = if round_robin { Strategy::RoundRobin } else { Strategy::LeastLoaded };
            let others = reps.iter().any(|r| r.active && !avoid.contains(&r.id));
            let anyone = reps.iter().any(|r| r.active);
            match pick_avoiding(strategy, &reps, turn, now(), &[], &avoid) {
                Some(p) if others => prop_assert!(!avoid.contains(&p.rep), "{} decided it before", p.rep),
                Some(p) => prop_assert!(avoid.contains(&p.rep)),
                None => prop_assert!(!anyone),
            }
        }

        #[test]
        fn least_loaded_picks_an_eligible_rep_with_the_fewest_open_leads(
            reps in prop::collection::vec((any::<bool>(), prop::option::of(-1i64..=1), prop::option::of(0i32..4), 0i64..5, any::<bool>()), 0..7)
        ) {
            let exclude: Vec<String> = (0..reps.len()).filter(|i| reps[*i].4).map(|i| format!("r{i}")).collect();
            let reps: Vec<Candidate> = reps.into_iter().enumerate().map(|(i, (active, away, capacity, open, _))| Candidate {
                id: format!("r{i}"), active, away_until: away.map(|h| now() + chrono::Duration::hours(h)), capacity, open,
            }).collect();
            // docs/api.md §4 in plain code: active, not away (back at `away_until`), under capacity,
            // not excluded; the fewest open leads (ties: any of them, the spec does not say).
            let mut fewest: Option<i64> = None;
            let mut least: Vec<&str> = Vec::new();
            for r in &reps {
                let back = match r.away_until { None => true, Some(t) => t <= now() };
                let room = match r.capacity { None => true, Some(c) => r.open < c as i64 };
                if !(r.active && back && room) || exclude.contains(&r.id) { continue; }
                if fewest.is_none_or(|f| r.open < f) { fewest = Some(r.open); least.clear(); }
                if fewest == Some(r.open) { least.push(&r.id); }
            }
            let got = pick(Strategy::LeastLoaded, &reps, 0, now(), &exclude).map(|p| p.rep);
            match got {
                Some(rep) => prop_assert!(least.contains(&rep.as_str()), "{} not in {:?}", rep, least),
                None => prop_assert!(least.is_empty(), "nobody picked, {:?} eligible", least),
            }
        }

        #[test]
        fn least_loaded_fills_any_start_loads_up_to_a_level(start in prop::collection::vec(0i64..10, 1..6), n in 0i64..60) {
            let mut reps: Vec<Candidate> = start.iter().enumerate().map(|(i, open)| rep(&format!("r{i}"), *open)).collect();
            for _ in 0..n {
                let p = pick(Strategy::LeastLoaded, &reps, 0, now(), &[]).unwrap();
                reps.iter_mut().find(|r| r.id == p.rep).unwrap().open += 1;
            }
            // Water filling: the highest level L the n leads can raise every rep to, the rest
            // one each to reps at L; reps above L keep their loads.
            let raise = |l: i64| start.iter().map(|s| (l - s).max(0)).sum::<i64>();
            let level = (0..).take_while(|l| raise(*l) <= n).last().unwrap_or(0);
            let mut rest = n - raise(level);
            let mut want: Vec<i64> = start.iter().map(|s| (*s).max(level)).collect();
            want.sort();
            for w in want.iter_mut().filter(|w| **w == level) {
                if rest > 0 { *w += 1; rest -= 1; }
            }
            want.sort();
            let mut got: Vec<i64> = reps.iter().map(|r| r.open).collect();
            got.sort();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn a_pick_is_always_eligible_and_not_excluded(
            reps in prop::collection::vec((any::<bool>(), any::<bool>(), prop::option::of(0i32..3), 0i64..4), 0..6),
            rr in 0i64..100, ll in any::<bool>(), exclude_first in any::<bool>()
        ) {
            let reps: Vec<Candidate> = reps.into_iter().enumerate().map(|(i, (active, away, capacity, open))| Candidate {
                id: format!("r{i}"), active, away_until: away.then(|| now() + chrono::Duration::hours(1)), capacity, open,
            }).collect();
            let exclude: Vec<String> = if exclude_first { vec!["r0".into()] } else { vec![] };
            let strategy = if ll { Strategy::LeastLoaded } else { Strategy::RoundRobin };
            match pick(strategy, &reps, rr, now(), &exclude) {
                Some(p) => {
                    let c = reps.iter().find(|r| r.id == p.rep).unwrap();
                    prop_assert!(c.eligible(now()) && !exclude.contains(&c.id));
                }
                None => prop_assert!(reps.iter().all(|r| !r.eligible(now()) || exclude.contains(&r.id))),
            }
        }
    }
}
