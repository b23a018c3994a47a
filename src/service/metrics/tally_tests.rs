use chrono::Duration;

use super::*;
use crate::domain::cycle_facts::NONE;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The bucket a cycle routed at `at` lands in, and by the per-cycle rule alone.
fn both(keys: &mut TimeKeys, at: DateTime<Utc>) -> (Option<u32>, Option<u32>) {
    let us = at.timestamp_micros();
    (keys.key(us), keys.exact(us))
}

#[test]
fn a_cycle_lands_in_the_bucket_of_its_local_date_in_half_and_quarter_hour_zones() {
    for tz in [chrono_tz::Asia::Kolkata, chrono_tz::Asia::Kathmandu] {
        let (from, to) = (t("2026-03-01T00:00:00Z"), t("2026-03-08T00:00:00Z"));
        let mut keys = TimeKeys::new(tz, Period::Day, from, to);
        let mut at = from;
        while at < to {
            let (hourly, exact) = both(&mut keys, at);
            assert_eq!(hourly, exact, "{tz} at {at}");
            let local = at.with_timezone(&tz).date_naive();
            assert_eq!(
                exact.map(|i| keys.dates[i as usize]),
                Some(local),
                "{tz} at {at}"
            );
            at += Duration::minutes(5);
        }
    }
}

#[test]
fn the_hour_that_holds_local_midnight_is_split_and_the_others_whole() {
    let mut keys = TimeKeys::new(
        chrono_tz::Asia::Kolkata,
        Period::Day,
        t("2026-03-01T00:00:00Z"),
        t("2026-03-03T00:00:00Z"),
    );
    // Midnight in Kolkata is 18:30 UTC.
    let split = t("2026-03-01T18:00:00Z").timestamp_micros();
    assert!(matches!(keys.hour_key(split), HourKey::Split));
    let whole = t("2026-03-01T19:00:00Z").timestamp_micros();
    assert!(matches!(keys.hour_key(whole), HourKey::Whole(Some(1))));
    assert_eq!(keys.key(split + 29 * 60_000_000), Some(0));
    assert_eq!(keys.key(split + 30 * 60_000_000), Some(1));
}

#[test]
fn dst_changes_keep_every_cycle_in_its_local_bucket_and_one_inside_an_hour_splits_it() {
    // New York changes on a UTC hour; Lord Howe (+10:30 to +11:00) at 15:30 UTC.
    let cases = [
        (
            chrono_tz::America::New_York,
            "2026-10-31T00:00:00Z",
            "2026-11-03T00:00:00Z",
        ),
        (
            chrono_tz::Australia::Lord_Howe,
            "2026-10-02T00:00:00Z",
            "2026-10-05T00:00:00Z",
        ),
    ];
    for (tz, from, to) in cases {
        for period in [Period::Day, Period::Week, Period::Month] {
            let mut keys = TimeKeys::new(tz, period, t(from), t(to));
            let mut at = t(from);
            while at < t(to) {
                let (hourly, exact) = both(&mut keys, at);
                assert_eq!(hourly, exact, "{tz} {period:?} at {at}");
                assert!(exact.is_some(), "{tz} {period:?} at {at}");
                at += Duration::minutes(5);
            }
        }
    }
    let keys = TimeKeys::new(
        chrono_tz::Australia::Lord_Howe,
        Period::Day,
        t("2026-10-02T00:00:00Z"),
        t("2026-10-05T00:00:00Z"),
    );
    let change = t("2026-10-03T15:00:00Z").timestamp_micros();
    assert!(matches!(keys.hour_key(change), HourKey::Split));
}

fn cycle(at: DateTime<Utc>, dims: [Sym; DIMS], outcome: Outcome) -> CycleFact {
    CycleFact {
        lead_id: None,
        routed_at: at.timestamp_micros(),
        dims,
        outcome,
        accepted_within_sla: true,
        decided_at: Some(at.timestamp_micros() + 60_000_000),
        ..CycleFact::default()
    }
}

#[test]
fn filters_keep_only_matching_cycles_and_views_only_their_period() {
    let mut syms = Symbols::default();
    let (hubspot, webform) = (syms.intern(Some("hubspot")), syms.intern(Some("webform")));
    let scope = Scope {
        from: t("2026-03-02T00:00:00Z"),
        to: t("2026-03-04T00:00:00Z"),
        tz: chrono_tz::UTC,
        source: Some("hubspot".into()),
        campaign: None,
        channel: None,
        lead_type: None,
        queue: None,
        owner: None,
        account: None,
        decided_by: None,
    };
    let spec = |from, to, group| ViewSpec {
        from: t(from),
        to: t(to),
        group,
        detail: true,
    };
    let mut tallies = Tallies::new(
        &mut syms,
        &scope,
        None,
        &[
            spec(
                "2026-03-02T00:00:00Z",
                "2026-03-04T00:00:00Z",
                Some(GroupBy::Time(Period::Day)),
            ),
            spec("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", None),
        ],
    );
    let dims = |s| [s, NONE, NONE, NONE, NONE, NONE, NONE];
    for (at, source, outcome) in [
        ("2026-03-01T12:00:00Z", hubspot, Outcome::Rejected),
        ("2026-03-02T12:00:00Z", hubspot, Outcome::Accepted),
        ("2026-03-02T13:00:00Z", webform, Outcome::Accepted),
        ("2026-03-03T23:59:59Z", hubspot, Outcome::Open),
        ("2026-03-04T00:00:00Z", hubspot, Outcome::Accepted),
    ] {
        tallies.fact(&cycle(t(at), dims(source), outcome));
    }
    let [mut cur, mut before] = <[View; 2]>::try_from(tallies.into_parts().0).ok().unwrap();
    let rows = cur.acceptance_rows(&syms);
    let figures: Vec<_> = rows
        .iter()
        .map(|r| (r.key.as_deref(), r.total, r.routed, r.accepted))
        .collect();
    assert_eq!(
        figures,
        [
            (Some("2026-03-02"), false, 1, 1),
            (Some("2026-03-03"), false, 1, 0),
            (None, true, 2, 1)
        ]
    );
    let rows = before.acceptance_rows(&syms);
    assert_eq!((rows.len(), rows[0].routed, rows[0].rejected), (1, 1, 1));
}
