//! The dates salgate accepts from a request. Outside them chrono's nanosecond arithmetic
//! overflows (before 1678, after 2262) and PostgreSQL refuses the timestamp (before 4713 BC),
//! so every date a client sends is checked here first, and a 422 names it.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

/// First accepted date.
pub const EARLIEST: NaiveDate = const_date(1970, 1, 1);
/// First date no longer accepted.
pub const END: NaiveDate = const_date(2200, 1, 1);
/// How a refusal describes the range.
pub const RANGE: &str = "between 1970-01-01 and 2199-12-31";

/// Evaluated at compile time, so an impossible date fails the build, never a request.
const fn const_date(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => date,
        None => panic!("not a date"),
    }
}

/// Whether `date` lies in [`EARLIEST`, `END`).
pub fn date_in_range(date: NaiveDate) -> bool {
    (EARLIEST..END).contains(&date)
}

/// Whether `t` (its UTC date) lies in [`EARLIEST`, `END`).
pub fn instant_in_range(t: DateTime<Utc>) -> bool {
    date_in_range(t.date_naive())
}

/// The first accepted instant: `EARLIEST` at midnight UTC.
pub fn earliest_instant() -> DateTime<Utc> {
    EARLIEST.and_time(NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_1970_to_2199() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert!(date_in_range(d(1970, 1, 1)));
        assert!(date_in_range(d(2199, 12, 31)));
        assert!(!date_in_range(d(1969, 12, 31)));
        assert!(!date_in_range(d(2200, 1, 1)));
        assert!(!date_in_range(d(1600, 1, 1)));
        assert_eq!(earliest_instant().timestamp(), 0);
    }
}
