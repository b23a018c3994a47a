use super::*;
use chrono_tz::{America::New_York, Asia::Kolkata, Australia::Lord_Howe, Europe::Berlin};
use proptest::prelude::*;
use Weekday::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}
fn h(n: i64) -> Duration {
    Duration::hours(n)
}
fn w(day: Weekday, start: &str, end: &str) -> WorkingWindow {
    WorkingWindow::parse(day, start, end).unwrap()
}
fn weekdays(start: &str, end: &str) -> Vec<WorkingWindow> {
    [Mon, Tue, Wed, Thu, Fri]
        .into_iter()
        .map(|d| w(d, start, end))
        .collect()
}
fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn berlin_office() -> Calendar {
    Calendar::new(Berlin, weekdays("09:00", "17:00"), []).unwrap()
}

#[test]
fn time_inside_one_window_is_plain_addition() {
    // 2026-03-02 is a Monday; Berlin is UTC+1 in winter.
    let c = berlin_office();
    assert_eq!(
        c.add_working(t("2026-03-02T09:00:00Z"), h(1)),
        t("2026-03-02T10:00:00Z")
    );
}

#[test]
fn the_overnight_gap_is_skipped() {
    let c = berlin_office();
    // Mon 15:00 local + 4 h = Mon 17:00 (2 h) then Tue 09:00 + 2 h = Tue 11:00 local.
    assert_eq!(
        c.add_working(t("2026-03-02T14:00:00Z"), h(4)),
        t("2026-03-03T10:00:00Z")
    );
}

#[test]
fn a_lunch_break_is_not_working_time() {
    let windows = [Mon, Tue, Wed, Thu, Fri]
        .into_iter()
        .flat_map(|d| [w(d, "09:00", "12:00"), w(d, "13:00", "17:00")])
        .collect();
    let c = Calendar::new(Berlin, windows, []).unwrap();
    // Mon 11:00 local + 2 h = 12:00 (1 h) + 13:00..14:00.
    assert_eq!(
        c.add_working(t("2026-03-02T10:00:00Z"), h(2)),
        t("2026-03-02T13:00:00Z")
    );
    assert_eq!(
        c.working_between(t("2026-03-02T08:00:00Z"), t("2026-03-02T16:00:00Z")),
        h(7)
    );
}

#[test]
fn the_weekend_is_skipped_and_after_hours_starts_at_the_next_opening() {
    let c = berlin_office();
    // Friday 2026-03-06 20:00 local: counting starts Monday 09:00 local.
    let friday_night = t("2026-03-06T19:00:00Z");
    assert_eq!(
        c.next_opening(friday_night),
        Some(t("2026-03-09T08:00:00Z"))
    );
    assert_eq!(c.add_working(friday_night, h(1)), t("2026-03-09T09:00:00Z"));
    // Monday before opening.
    assert_eq!(
        c.add_working(t("2026-03-09T05:00:00Z"), h(1)),
        t("2026-03-09T09:00:00Z")
    );
    assert!(!c.is_working(friday_night));
    assert_eq!(c.add_working(friday_night, Duration::zero()), friday_night);
}

#[test]
fn holidays_around_a_weekend_are_skipped() {
    // Friday 2026-04-03 and Monday 2026-04-06 (Easter) are holidays.
    let c = Calendar::new(
        Berlin,
        weekdays("09:00", "17:00"),
        [date("2026-04-03"), date("2026-04-06")],
    )
    .unwrap();
    // Thursday 16:00 local (UTC+2 in April) + 2 h: 1 h Thursday, then Tuesday 09:00 + 1 h.
    assert_eq!(
        c.add_working(t("2026-04-02T14:00:00Z"), h(2)),
        t("2026-04-07T08:00:00Z")
    );
}

#[test]
fn berlin_dst_weekends_keep_an_office_day_at_eight_hours() {
    let c = berlin_office();
    // Spring forward on Sunday 2026-03-29: Friday 16:00 CET + 2 h = Monday 10:00 CEST.
    assert_eq!(
        c.add_working(t("2026-03-27T15:00:00Z"), h(2)),
        t("2026-03-30T08:00:00Z")
    );
    assert_eq!(
        c.working_between(t("2026-03-30T00:00:00Z"), t("2026-03-31T00:00:00Z")),
        h(8)
    );
    // Fall back on Sunday 2026-10-25: Friday 16:00 CEST + 2 h = Monday 10:00 CET.
    assert_eq!(
        c.add_working(t("2026-10-23T14:00:00Z"), h(2)),
        t("2026-10-26T09:00:00Z")
    );
}

#[test]
fn new_york_switch_days_are_23_and_25_hours_long_around_the_clock() {
    let all_day: Vec<WorkingWindow> = [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        .into_iter()
        .map(|d| w(d, "00:00", "24:00"))
        .collect();
    let c = Calendar::new(New_York, all_day, []).unwrap();
    // 2026-03-08 (spring forward) is 23 h; 2026-11-01 (fall back) is 25 h.
    let spring = c.working_between(t("2026-03-08T05:00:00Z"), t("2026-03-09T04:00:00Z"));
    assert_eq!(spring, h(23));
    let fall = c.working_between(t("2026-11-01T04:00:00Z"), t("2026-11-02T05:00:00Z"));
    assert_eq!(fall, h(25));
    // Around the clock, working time is plain time even across the switch.
    assert_eq!(
        c.add_working(t("2026-03-08T05:00:00Z"), h(30)),
        t("2026-03-09T11:00:00Z")
    );
    let office = Calendar::new(New_York, weekdays("09:00", "17:00"), []).unwrap();
    // Friday 2026-03-06 16:00 EST + 2 h = Monday 10:00 EDT (14:00Z).
    assert_eq!(
        office.add_working(t("2026-03-06T21:00:00Z"), h(2)),
        t("2026-03-09T14:00:00Z")
    );
    // Friday 2026-10-30 16:00 EDT + 2 h = Monday 10:00 EST (15:00Z).
    assert_eq!(
        office.add_working(t("2026-10-30T20:00:00Z"), h(2)),
        t("2026-11-02T15:00:00Z")
    );
}

#[test]
fn no_calendar_is_24x7() {
    let start = t("2026-03-07T23:30:00Z");
    assert_eq!(add_working(None, start, h(24)), start + h(24));
}

#[test]
fn bad_calendars_are_refused_with_the_window_named() {
    assert_eq!(
        Calendar::new(Berlin, vec![], []),
        Err(CalendarError::NoWindows)
    );
    let e = Calendar::new(
        Berlin,
        vec![w(Mon, "09:00", "12:00"), w(Mon, "11:00", "13:00")],
        [],
    )
    .unwrap_err();
    assert!(e.to_string().contains("Mon 09:00–12:00"), "{e}");
    assert!(WorkingWindow::parse(Mon, "17:00", "09:00").is_err());
    assert!(WorkingWindow::parse(Mon, "9:00", "17:00").is_err());
    assert!(WorkingWindow::parse(Mon, "09:00", "24:01").is_err());
}

#[test]
fn a_calendar_of_nothing_but_holidays_still_terminates() {
    let c = Calendar::new(
        Berlin,
        vec![w(Mon, "09:00", "10:00")],
        (0..3700).map(|i| date("2026-01-01") + Duration::days(i)),
    )
    .unwrap();
    let start = t("2026-01-05T00:00:00Z");
    assert!(c.add_working(start, h(1)) > start + Duration::days(3000));
}

#[test]
fn iso_durations_parse_and_format() {
    for (s, d) in [
        ("PT1H", h(1)),
        ("PT24H", h(24)),
        ("P1D", h(24)),
        ("PT90M", Duration::minutes(90)),
        ("P1DT2H30M15S", h(26) + Duration::seconds(1815)),
        ("PT0S", Duration::zero()),
    ] {
        assert_eq!(parse_iso_duration(s), Ok(d), "{s}");
        assert_eq!(parse_iso_duration(&format_iso_duration(d)), Ok(d));
    }
    assert_eq!(format_iso_duration(Duration::minutes(90)), "PT1H30M");
    assert_eq!(format_iso_duration(h(48)), "P2D");
    for bad in [
        "1H", "P", "PT", "P1M", "P1Y", "P1W", "PT1H1H", "PT1M1H", "PT1", "PTH", "PT1.5H", "P1H",
    ] {
        assert!(parse_iso_duration(bad).is_err(), "{bad}");
    }
}

fn zone() -> impl Strategy<Value = Tz> {
    prop_oneof![
        Just(Berlin),
        Just(New_York),
        Just(Kolkata),
        Just(Lord_Howe),
        // These two switch at midnight: 00:00 and 24:00 boundaries fall in gaps and repeats.
        Just(chrono_tz::America::Havana),
        Just(chrono_tz::America::Santiago),
        Just(chrono_tz::UTC)
    ]
}

fn calendar() -> impl Strategy<Value = Calendar> {
    let day = prop::collection::vec((0u32..96, 1u32..32), 0..3);
    // At least a working day a week, so three weeks of working time stay within the horizon.
    (
        zone(),
        prop::collection::vec(day, 7),
        prop::collection::vec(0i64..1100, 0..25),
    )
        .prop_filter_map("needs eight hours a week", |(tz, days, holidays)| {
            let mut windows = Vec::new();
            for (i, day) in days.iter().enumerate() {
                let weekday = Weekday::try_from(i as u8).unwrap();
                let mut at = 0;
                for &(gap, len) in day {
                    let start = at + gap * 15;
                    let end = (start + len * 15).min(DAY_MINUTES);
                    if start >= end {
                        break;
                    }
                    windows.push(WorkingWindow {
                        weekday,
                        start,
                        end,
                    });
                    at = end;
                }
            }
            let weekly: u32 = windows.iter().map(|w| w.end - w.start).sum();
            if weekly < 8 * 60 {
                return None;
            }
            let holidays = holidays
                .into_iter()
                .map(|d| date("2025-01-01") + Duration::days(d));
            Calendar::new(tz, windows, holidays).ok()
        })
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..3 * 365 * 24 * 60).prop_map(|m| t("2025-01-01T00:00:00Z") + Duration::minutes(m))
}

fn duration() -> impl Strategy<Value = Duration> {
    (0i64..21 * 24 * 60).prop_map(Duration::minutes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn adding_is_monotonic(c in calendar(), t1 in instant(), t2 in instant(), d1 in duration(), d2 in duration()) {
        let (t1, t2) = (t1.min(t2), t1.max(t2));
        let (d1, d2) = (d1.min(d2), d1.max(d2));
        prop_assert!(c.add_working(t1, d1) <= c.add_working(t1, d2));
        prop_assert!(c.add_working(t1, d1) <= c.add_working(t2, d1));
    }

    #[test]
    fn adding_a_then_b_is_adding_a_plus_b(c in calendar(), t in instant(), a in duration(), b in duration()) {
        prop_assert_eq!(c.add_working(c.add_working(t, a), b), c.add_working(t, a + b));
    }

    #[test]
    fn working_between_inverts_adding(c in calendar(), t in instant(), d in duration()) {
        let end = c.add_working(t, d);
        prop_assert_eq!(c.working_between(t, end), d);
    }

    #[test]
    fn a_positive_duration_ends_inside_a_window_or_at_its_end(c in calendar(), t in instant(), d in duration()) {
        prop_assume!(d > Duration::zero());
        let end = c.add_working(t, d);
        let just_before = end - Duration::seconds(1);
        prop_assert!(c.is_working(just_before), "{} is not working time", just_before);
    }

    #[test]
    fn without_a_calendar_it_is_plain_addition(t in instant(), d in duration()) {
        prop_assert_eq!(add_working(None, t, d), t + d);
    }
}

#[test]
fn days_and_a_part_of_an_hour_format_with_the_part() {
    for (d, s) in [
        (h(24) + Duration::minutes(30), "P1DT30M"),
        (h(24) + Duration::seconds(5), "P1DT5S"),
        (h(25), "P1DT1H"),
        (h(24) + Duration::seconds(61), "P1DT1M1S"),
        (Duration::zero(), "PT0S"),
        (Duration::seconds(-5), "PT0S"),
    ] {
        assert_eq!(format_iso_duration(d), s);
    }
}
