//! The order in which `POST /v1/queues/{id}/claim` hands out a queue's unassigned leads
//! (docs/api.md §4): the earliest due first, or the lead the acceptance model expects sales to
//! accept first.

/// How a queue orders its claimable leads; stored as the text `as_str` gives
/// (`queues.claim_order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimOrder {
    /// The earliest SLA deadline first.
    #[default]
    Due,
    /// The highest predicted acceptance first, among the [`CANDIDATES`] most urgent; the
    /// earliest due first while no model is ready.
    LikelyAccepted,
}

/// How many of the most urgent claimable leads a `likely_accepted` claim ranks. Bounds the
/// rows a claim reads; a queue with more waiting is worked from its urgent end.
pub const CANDIDATES: i64 = 500;

impl ClaimOrder {
    pub const ALL: [ClaimOrder; 2] = [ClaimOrder::Due, ClaimOrder::LikelyAccepted];

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimOrder::Due => "due",
            ClaimOrder::LikelyAccepted => "likely_accepted",
        }
    }

    pub fn parse(s: &str) -> Option<ClaimOrder> {
        ClaimOrder::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// `leads` (in due order, each with its predicted acceptance when it has one) in the order a
/// `likely_accepted` claim tries them: the highest prediction first; equal predictions, and
/// the leads without one after all the others, keep their due order.
pub fn likely_accepted_first<T>(leads: Vec<(T, Option<f64>)>) -> Vec<T> {
    let mut ranked: Vec<(usize, T, Option<f64>)> = leads
        .into_iter()
        .enumerate()
        .map(|(i, (lead, p))| (i, lead, p.filter(|p| p.is_finite())))
        .collect();
    ranked.sort_by(|a, b| match (a.2, b.2) {
        (Some(x), Some(y)) => y.total_cmp(&x).then(a.0.cmp(&b.0)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(&b.0),
    });
    ranked.into_iter().map(|(_, lead, _)| lead).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_most_likely_goes_first_and_leads_without_a_prediction_last_in_due_order() {
        let leads = vec![
            ("due-1", None),
            ("due-2", Some(0.2)),
            ("due-3", Some(0.9)),
            ("due-4", None),
            ("due-5", Some(0.2)),
            ("due-6", Some(f64::NAN)),
        ];
        assert_eq!(
            likely_accepted_first(leads),
            ["due-3", "due-2", "due-5", "due-1", "due-4", "due-6"]
        );
    }

    #[test]
    fn every_order_reads_back_from_its_text() {
        for order in ClaimOrder::ALL {
            assert_eq!(ClaimOrder::parse(order.as_str()), Some(order));
        }
        assert_eq!(ClaimOrder::parse("fastest"), None);
        assert_eq!(ClaimOrder::default(), ClaimOrder::Due);
    }

    proptest! {
        #[test]
        fn the_order_is_a_permutation_sorted_by_prediction(
            ps in proptest::collection::vec(proptest::option::of(0.0f64..=1.0), 0..40)
        ) {
            let leads: Vec<(usize, Option<f64>)> = ps.iter().copied().enumerate().collect();
            let order = likely_accepted_first(leads);
            let mut seen = order.clone();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..ps.len()).collect::<Vec<_>>());
            for pair in order.windows(2) {
                let (a, b) = (ps[pair[0]], ps[pair[1]]);
                match (a, b) {
                    (Some(x), Some(y)) => prop_assert!(x > y || (x == y && pair[0] < pair[1])),
                    (None, None) => prop_assert!(pair[0] < pair[1]),
                    (None, Some(_)) => prop_assert!(false, "a lead without a prediction first"),
                    (Some(_), None) => {}
                }
            }
        }
    }
}
