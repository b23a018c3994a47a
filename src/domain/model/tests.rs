use proptest::prelude::*;

use super::{
    eval::{auc, brier, calibration, Holdout, BUCKETS},
    Counts, Label, NaiveBayes, Params, OTHER,
};

const PARAMS: Params = Params {
    alpha: 1.0,
    min_support: 5,
};

/// 100 cycles: `title=vp` accepted 45 of 50, `title=hr` accepted 5 of 50 (rejected
/// `out_of_icp`); `size` carries no signal; `region=moon` is seen twice.
fn planted() -> Counts {
    let mut c = Counts::default();
    for i in 0..100u32 {
        let title = if i < 50 { "vp" } else { "hr" };
        let accepted = if i < 50 { i % 10 != 0 } else { i % 10 == 0 };
        let size = if i % 2 == 0 { "small" } else { "large" };
        let region = if i < 2 { "moon" } else { "emea" };
        let label = if accepted {
            Label::Accepted
        } else if title == "hr" {
            Label::Rejected("out_of_icp")
        } else {
            Label::Rejected("no_budget")
        };
        c.add_cycle(
            [("title", title), ("size", size), ("region", region)],
            label,
        );
    }
    c
}

#[test]
fn a_planted_value_raises_or_lowers_p_accept_and_names_itself_first() {
    let m = NaiveBayes::fit(&planted(), PARAMS);
    let vp = m.predict([("title", "vp"), ("size", "small")]);
    let hr = m.predict([("title", "hr"), ("size", "small")]);
    assert!(vp.p_accept > 0.8, "{vp:?}");
    assert!(hr.p_accept < 0.2, "{hr:?}");
    assert_eq!(vp.top_factors[0].dimension, "title");
    assert!(vp.top_factors[0].effect > 0.0);
    assert!(hr.top_factors[0].effect < 0.0);
    assert_eq!(hr.likely_rejection_code.as_deref(), Some("out_of_icp"));
    assert_eq!(vp.likely_rejection_code.as_deref(), Some("no_budget"));
}

#[test]
fn the_effect_is_the_smoothed_log_likelihood_ratio() {
    let m = NaiveBayes::fit(&planted(), PARAMS);
    let f = m.predict([("title", "vp")]).top_factors[0].clone();
    // title: vp, hr kept, other empty: k = 3; accepted 50 (45 vp), rejected 50 (5 vp).
    let expect = ((45.0 + 1.0) / (50.0 + 3.0f64)).ln() - ((5.0 + 1.0) / (50.0 + 3.0f64)).ln();
    assert!((f.effect - expect).abs() < 1e-4, "{} vs {expect}", f.effect);
    // Prior 50/50: p = sigmoid(effect).
    let p = m.score([("title", "vp")]);
    assert!((p - 1.0 / (1.0 + (-expect).exp())).abs() < 1e-12);
}

#[test]
fn rare_and_unseen_values_are_scored_as_other_and_unknown_dimensions_not_at_all() {
    let m = NaiveBayes::fit(&planted(), PARAMS);
    let rare = m.predict([("region", "moon")]);
    assert_eq!(rare.top_factors[0].value, OTHER);
    let unseen = m.predict([("region", "mars")]);
    assert_eq!(unseen.p_accept, rare.p_accept);
    let none = m.predict(std::iter::empty());
    let unknown = m.predict([("planet", "earth")]);
    assert_eq!(none, unknown);
    assert!(unknown.top_factors.is_empty());
    assert!(
        (none.p_accept - 0.5).abs() < 1e-9,
        "equal classes: prior 0.5"
    );
}

#[test]
fn without_rejections_there_is_no_likely_code_and_without_data_p_is_one_half() {
    let mut c = Counts::default();
    c.add_cycle([("title", "vp")], Label::Accepted);
    let m = NaiveBayes::fit(&c, PARAMS);
    assert_eq!(m.predict([("title", "vp")]).likely_rejection_code, None);
    let empty = NaiveBayes::fit(&Counts::default(), PARAMS);
    assert_eq!(empty.score([("title", "vp")]), 0.5);
}

#[test]
fn the_strongest_values_put_the_planted_ones_first() {
    let m = NaiveBayes::fit(&planted(), PARAMS);
    let top = m.strongest(2);
    assert!(top.iter().all(|(f, _)| f.dimension == "title"), "{top:?}");
    assert_eq!(top[0].1, 50);
}

#[test]
fn counts_round_trip_through_json() {
    let c = planted();
    let back: Counts = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.cycles(), 100);
}

#[test]
fn auc_counts_ties_as_one_half_and_needs_both_classes() {
    assert_eq!(auc(&mut [(0.5, true), (0.5, false)]), Some(0.5));
    assert_eq!(
        auc(&mut [(0.9, true), (0.1, false), (0.5, true)]),
        Some(1.0)
    );
    // Positive at 0.5 ties a negative (½) and beats one (1): (1 + ½) / 2.
    assert_eq!(
        auc(&mut [(0.5, true), (0.5, false), (0.1, false)]),
        Some(0.75)
    );
    assert_eq!(auc(&mut [(0.9, true)]), None);
    assert_eq!(auc(&mut []), None);
}

#[test]
fn brier_and_calibration_by_hand() {
    let s = [(1.0, true), (0.0, false), (0.25, true), (0.95, false)];
    let expect = (0.0 + 0.0 + 0.5625 + 0.9025) / 4.0;
    assert!((brier(&s).unwrap() - expect).abs() < 1e-12);
    let b = calibration(&s);
    assert_eq!(b.len(), BUCKETS);
    assert_eq!(b[0].count, 1);
    assert_eq!(b[2].observed_rate, Some(1.0));
    assert_eq!(b[9].count, 2, "1.0 falls in the last bucket");
    assert_eq!(b[9].predicted_mean, Some(0.975));
    assert_eq!(b[5].predicted_mean, None);
    let mut h = Holdout::default();
    s.iter().for_each(|&(p, y)| h.push(p, y));
    let q = h.quality();
    // Accepted 1.0 beats both rejected; 0.25 beats 0.0 but not 0.95: 3 of 4 pairs.
    assert_eq!((q.cycles, q.auc), (4, Some(0.75)));
}

fn scored() -> impl Strategy<Value = Vec<(f64, bool)>> {
    prop::collection::vec((0.0f64..1.0, any::<bool>()), 2..200)
}

proptest! {
    #[test]
    fn a_perfect_ranking_has_auc_one_and_the_reversed_zero(
        pos in prop::collection::vec(0.5f64..1.0, 1..50),
        neg in prop::collection::vec(0.0f64..0.4999, 1..50),
    ) {
        let mut s: Vec<_> = pos.iter().map(|&p| (p, true)).chain(neg.iter().map(|&p| (p, false))).collect();
        prop_assert_eq!(auc(&mut s), Some(1.0));
        let mut r: Vec<_> = s.iter().map(|&(p, y)| (1.0 - p, y)).collect();
        prop_assert_eq!(auc(&mut r), Some(0.0));
    }

    #[test]
    fn auc_is_invariant_to_monotone_transforms(mut s in scored()) {
        let mut t: Vec<_> = s.iter().map(|&(p, y)| ((3.0 * p).exp() + 7.0, y)).collect();
        prop_assert_eq!(auc(&mut s), auc(&mut t));
    }

    #[test]
    fn auc_equals_the_pairwise_count(mut s in scored()) {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for &(p, _) in s.iter().filter(|x| x.1) {
            for &(q, _) in s.iter().filter(|x| !x.1) {
                pairs += 1.0;
                wins += if p > q { 1.0 } else if p == q { 0.5 } else { 0.0 };
            }
        }
        let expect = (pairs > 0.0).then(|| wins / pairs);
        let got = auc(&mut s);
        match (got, expect) {
            (Some(g), Some(e)) => prop_assert!((g - e).abs() < 1e-9),
            (g, e) => prop_assert_eq!(g, e),
        }
    }

    #[test]
    fn a_perfect_forecast_has_brier_zero(ys in prop::collection::vec(any::<bool>(), 1..100)) {
        let s: Vec<_> = ys.iter().map(|&y| (f64::from(u8::from(y)), y)).collect();
        prop_assert_eq!(brier(&s), Some(0.0));
    }

    #[test]
    fn calibration_counts_every_cycle_once(s in scored()) {
        let b = calibration(&s);
        prop_assert_eq!(b.iter().map(|x| x.count).sum::<u64>(), s.len() as u64);
    }

    #[test]
    fn p_accept_is_a_probability(
        cycles in prop::collection::vec((0u8..4, 0u8..3, 0u8..3), 0..200),
        min_support in 0u64..30,
    ) {
        let mut c = Counts::default();
        let values = ["a", "b", "c", "d"];
        let codes = ["x", "y"];
        for &(v, w, l) in &cycles {
            let label = if l == 2 { Label::Accepted } else { Label::Rejected(codes[l as usize]) };
            c.add_cycle([("d1", values[v as usize]), ("d2", values[w as usize])], label);
        }
        let m = NaiveBayes::fit(&c, Params { alpha: 1.0, min_support });
        for v in values {
            let p = m.predict([("d1", v), ("d2", "a")]);
            prop_assert!((0.0..=1.0).contains(&p.p_accept));
            prop_assert!(p.top_factors.len() <= 2);
        }
    }
}
