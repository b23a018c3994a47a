use proptest::prelude::*;

use super::*;
use crate::domain::outcome::OutcomeKind;

/// An hour in 2026.
const HOUR: i64 = 493_000 * HOUR_US;

fn outcome() -> impl Strategy<Value = (usize, i64, Option<(f64, Sym)>)> {
    (
        0..OutcomeKind::ALL.len(),
        -HOUR_US * 24 * 400..HOUR_US * 24 * 400,
        proptest::option::of((0.0..1e12f64, any::<u32>())),
    )
}

fn fact() -> impl Strategy<Value = CycleFact> {
    let instant = proptest::option::of(-HOUR_US * 24 * 400..HOUR_US * 24 * 400);
    let features = proptest::option::of(proptest::collection::vec(any::<u32>(), 0..14));
    (
        (
            0..HOUR_US,
            proptest::array::uniform7(0u32..=u32::MAX),
            0u8..4,
        ),
        (
            proptest::array::uniform6(any::<bool>()),
            proptest::option::of(any::<u128>()),
        ),
        (any::<u32>(), any::<u32>()),
        (instant.clone(), instant.clone(), instant.clone(), instant),
        (proptest::collection::vec(outcome(), 0..4), features),
    )
        .prop_map(
            |((offset, dims, outcome), (b, id), (code, reason), (dec, sla, ftd, ft), (os, fs))| {
                let routed_at = HOUR + offset;
                CycleFact {
                    lead_id: id.map(uuid::Uuid::from_u128),
                    routed_at,
                    dims,
                    outcome: [
                        Outcome::Open,
                        Outcome::Accepted,
                        Outcome::Rejected,
                        Outcome::Recycled,
                    ][usize::from(outcome)],
                    accepted_within_sla: b[0],
                    breached: b[1],
                    recycled: b[2],
                    rerouted: b[3],
                    accepted_later: b[4],
                    rejection_code: code,
                    recycle_reason: reason,
                    decided_by_rule: b[5],
                    decided_at: dec.map(|v| routed_at + v),
                    sla_due_at: sla.map(|v| routed_at + v),
                    first_touch_due_at: ftd.map(|v| routed_at + v),
                    first_touched_at: ft.map(|v| routed_at + v),
                    outcomes: os
                        .into_iter()
                        .map(|(k, at, amount)| OutcomeFact {
                            kind: OutcomeKind::ALL[k],
                            at: routed_at + at,
                            amount,
                        })
                        .collect(),
                    featured: fs.is_some(),
                    features: fs.unwrap_or_default(),
                }
            },
        )
}

fn decode_all(
    hour: i64,
    data: &[u8],
    features: Option<&[u8]>,
) -> Result<Vec<CycleFact>, BlockError> {
    let mut out = Vec::new();
    decode_block(hour, data, features, |c| out.push(c.clone()))?;
    Ok(out)
}

proptest! {
    #[test]
    fn a_block_gives_back_exactly_the_cycles_packed_into_it(
        cycles in proptest::collection::vec(fact(), 0..40)
    ) {
        let mut cycles = cycles;
        let (data, features) = encode_block(HOUR, &mut cycles).unwrap();
        let mut sorted = cycles.clone();
        sorted.sort_by_key(|c| c.routed_at);
        prop_assert_eq!(decode_all(HOUR, &data, Some(&features)).unwrap(), sorted.clone());
        // Without the features column: the same cycles, none featured.
        for c in &mut sorted {
            c.featured = false;
            c.features.clear();
        }
        prop_assert_eq!(decode_all(HOUR, &data, None).unwrap(), sorted);
    }

    #[test]
    fn a_cut_block_is_an_error_not_a_wrong_answer(
        cycles in proptest::collection::vec(fact(), 1..10),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut cycles = cycles;
        let (data, features) = encode_block(HOUR, &mut cycles).unwrap();
        let at = cut.index(data.len());
        prop_assert!(decode_all(HOUR, &data[..at], None).is_err());
        let at = cut.index(features.len());
        prop_assert!(decode_all(HOUR, &data, Some(&features[..at])).is_err());
    }
}

fn open_cycle() -> CycleFact {
    CycleFact {
        lead_id: Some(uuid::Uuid::from_u128(7)),
        routed_at: HOUR,
        dims: [1, NONE, NONE, 2, NONE, 3, NONE],
        sla_due_at: Some(HOUR + HOUR_US),
        ..CycleFact::default()
    }
}

#[test]
fn a_cycle_routed_outside_its_hour_is_refused() {
    let mut c = open_cycle();
    c.routed_at = HOUR + HOUR_US;
    assert_eq!(encode_block(HOUR, &mut [c]), Err(BlockError::OutsideHour));
}

#[test]
fn an_open_cycle_is_past_due_from_its_due_time_on_and_a_decided_one_never() {
    let mut c = open_cycle();
    let due = HOUR + HOUR_US;
    assert!(!c.open_past_due(due - 1));
    assert!(c.open_past_due(due));
    c.outcome = Outcome::Rejected;
    assert!(!c.open_past_due(due + 1));
    c.outcome = Outcome::Open;
    c.sla_due_at = None;
    assert!(!c.open_past_due(i64::MAX));
}

#[test]
fn a_first_touch_is_met_by_its_due_time_and_missed_after_it_or_when_still_missing() {
    let mut c = open_cycle();
    let due = HOUR + 4 * HOUR_US;
    assert!(
        !c.first_touch_met() && !c.first_touch_missed(i64::MAX),
        "no due time"
    );
    c.first_touch_due_at = Some(due);
    assert!(!c.first_touch_missed(due - 1), "not due yet");
    assert!(c.first_touch_missed(due), "due and untouched");
    c.first_touched_at = Some(due);
    assert!(c.first_touch_met() && !c.first_touch_missed(i64::MAX));
    c.first_touched_at = Some(due + 1);
    assert!(!c.first_touch_met() && c.first_touch_missed(0));
}

#[test]
fn seconds_are_the_nearest_float_to_the_exact_microseconds() {
    let mut c = open_cycle();
    c.decided_at = Some(HOUR + 1_234_567);
    c.first_touched_at = Some(HOUR + 86_400_000_001);
    assert_eq!(c.decision_s(), Some(1.234_567));
    assert_eq!(c.touch_s(), Some(86_400.000_001));
}
