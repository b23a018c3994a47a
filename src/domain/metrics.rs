//! The arithmetic of the RevOps reports (docs/api.md §6) that needs no I/O: rates, health bands,
//! percentiles, the rejection-trend rule and time buckets.

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;

/// `num / den` rounded to 4 places; `None` for an empty denominator (docs/api.md §6: an empty group
/// gives a null rate, not an error).
pub fn rate(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| (num as f64 / den as f64 * 10_000.0).round() / 10_000.0)
}

/// PostgreSQL's `percentile_disc`: the first value (in ascending order) whose position reaches
/// the fraction `p` of the values. `sorted` must be sorted ascending.
pub fn percentile_disc(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `percentile_disc` without sorting everything: selects the value in place (O(n)); `values`
/// are reordered.
pub fn percentile_disc_select(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((p * values.len() as f64).ceil() as usize).clamp(1, values.len());
    let (_, v, _) = values.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some(*v)
}

/// Acceptance-rate health (docs/api.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    BelowRange,
    Healthy,
    Elevated,
    RubberStamping,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::BelowRange => "below_range",
            Band::Healthy => "healthy",
            Band::Elevated => "elevated",
            Band::RubberStamping => "rubber_stamping",
        }
    }
}

/// The limits between bands, as rates in [0, 1]: below `healthy_from` is `below_range`;
/// `healthy` up to (not including) `elevated_from`; `elevated` up to and including
/// `rubber_stamping_above`; above it `rubber_stamping`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct BandLimits {
    pub healthy_from: f64,
    pub elevated_from: f64,
    pub rubber_stamping_above: f64,
}

impl Default for BandLimits {
    fn default() -> Self {
        BandLimits {
            healthy_from: 0.60,
            elevated_from: 0.75,
            rubber_stamping_above: 0.85,
        }
    }
}

impl BandLimits {
    /// Limits must rise within [0, 1].
    pub fn new(healthy_from: f64, elevated_from: f64, rubber_stamping_above: f64) -> Option<Self> {
        let ok = (0.0..=1.0).contains(&healthy_from)
            && healthy_from <= elevated_from
            && elevated_from <= rubber_stamping_above
            && rubber_stamping_above <= 1.0;
        ok.then_some(BandLimits {
            healthy_from,
            elevated_from,
            rubber_stamping_above,
        })
    }

    pub fn band(&self, acceptance_rate: f64) -> Band {
        if acceptance_rate < self.healthy_from {
            Band::BelowRange
        } else if acceptance_rate < self.elevated_from {
            Band::Healthy
        } else if acceptance_rate <= self.rubber_stamping_above {
            Band::Elevated
        } else {
            Band::RubberStamping
        }
    }
}

/// A rejection code is flagged when its share rose by this much (10 points) against the
/// previous equal period.
pub const TREND_RISE: f64 = 0.10;

/// Whether a code's share rose enough to flag. A previous period with no rejections at all
/// gives nothing to compare with.
pub fn share_rose(previous: Option<f64>, current: Option<f64>) -> bool {
    match (previous, current) {
        // Shares are rounded to 4 places; compare in whole basis points so 0.1 counts.
        (Some(p), Some(c)) => ((c - p) * 10_000.0).round() >= TREND_RISE * 10_000.0,
        _ => false,
    }
}

/// Calendar periods for `group_by` day, week (ISO, from Monday) and month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// The PostgreSQL `date_trunc` unit.
    pub fn unit(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }

    /// The local date the period holding `date` starts on.
    pub fn start_of(self, date: NaiveDate) -> NaiveDate {
        // The `unwrap_or`s keep `date` only where no earlier date exists (NaiveDate::MIN).
        match self {
            Period::Day => date,
            Period::Week => date
                .checked_sub_days(Days::new(date.weekday().num_days_from_monday().into()))
                .unwrap_or(date),
            Period::Month => date.with_day(1).unwrap_or(date),
        }
    }

    /// The start of the period after the one starting on `start`; `None` past chrono's range.
    pub fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Day => start.checked_add_days(Days::new(1)),
            Period::Week => start.checked_add_days(Days::new(7)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
    }

    /// The starts (local dates in `tz`) of every period that overlaps `[from, to)`, in order;
    /// empty periods included, so a report shows them with null rates.
    pub fn buckets(self, from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let Some(last) = to.checked_sub_signed(Duration::microseconds(1)) else {
            return out;
        };
        let last = last.with_timezone(&tz).date_naive();
        let mut start = (from < to).then(|| self.start_of(from.with_timezone(&tz).date_naive()));
        while let Some(s) = start.filter(|s| *s <= last) {
            out.push(s);
            start = self.next(s);
        }
        out
    }

    /// The instant (UTC) the period starting on local `date` begins: local midnight, or the
    /// first instant after it when midnight does not exist that day.
    pub fn instant(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
        let midnight = date.and_time(NaiveTime::MIN);
        // Zones skip at most hours at once: a day of 15-minute probes finds the first instant
        // (midnight UTC if none, rather than loop).
        (0..96)
            .filter_map(|i| midnight.checked_add_signed(Duration::minutes(15 * i)))
            .find_map(|probe| tz.from_local_datetime(&probe).earliest())
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    }
}

/// Formats a bucket key the way reports show it.
pub fn bucket_key(start: NaiveDate) -> String {
    start.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_case_is_healthy_at_0_62() {
        let r = rate(248, 400).unwrap();
        assert_eq!(r, 0.62);
        assert_eq!(BandLimits::default().band(r), Band::Healthy);
    }

    #[test]
    fn bands_have_the_documented_edges() {
        let b = BandLimits::default();
        assert_eq!(b.band(0.5999), Band::BelowRange);
        assert_eq!(b.band(0.60), Band::Healthy);
        assert_eq!(b.band(0.7499), Band::Healthy);
        assert_eq!(b.band(0.75), Band::Elevated);
        assert_eq!(b.band(0.85), Band::Elevated);
        assert_eq!(b.band(0.8501), Band::RubberStamping);
    }

    #[test]
    fn band_limits_must_rise() {
        assert!(BandLimits::new(0.7, 0.6, 0.9).is_none());
        assert!(BandLimits::new(0.5, 0.6, 1.1).is_none());
        assert!(BandLimits::new(0.5, 0.7, 0.9).is_some());
    }

    #[test]
    fn empty_denominator_gives_no_rate() {
        assert_eq!(rate(0, 0), None);
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(2, 3), Some(0.6667));
    }

    #[test]
    fn percentile_disc_matches_postgres_definition() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_disc(&v, 0.5), Some(2.0));
        assert_eq!(percentile_disc(&v, 0.9), Some(4.0));
        assert_eq!(percentile_disc(&[7.0], 0.5), Some(7.0));
        assert_eq!(percentile_disc(&[], 0.5), None);
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_disc(&ten, 0.9), Some(9.0));
    }

    proptest::proptest! {
        #[test]
        fn selecting_agrees_with_sorting(
            mut v in proptest::collection::vec(-1e6f64..1e6, 0..200),
            p in 0.0f64..=1.0,
        ) {
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            proptest::prop_assert_eq!(percentile_disc_select(&mut v, p), percentile_disc(&sorted, p));
        }
    }

    #[test]
    fn a_rise_of_exactly_ten_points_is_flagged() {
        assert!(share_rose(Some(0.2), Some(0.3)));
        assert!(!share_rose(Some(0.2), Some(0.2999)));
        assert!(!share_rose(None, Some(0.9)));
        assert!(share_rose(Some(0.0), Some(0.1)));
    }

    #[test]
    fn weeks_across_a_year_boundary_start_on_monday() {
        let from = Utc.with_ymd_and_hms(2026, 12, 21, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2027, 1, 12, 0, 0, 0).unwrap();
        let keys: Vec<String> = Period::Week
            .buckets(from, to, chrono_tz::UTC)
            .into_iter()
            .map(bucket_key)
            .collect();
        assert_eq!(
            keys,
            ["2026-12-21", "2026-12-28", "2027-01-04", "2027-01-11"]
        );
    }

    #[test]
    fn buckets_follow_the_report_time_zone() {
        // 2026-03-01 03:00 UTC is still February in Los Angeles.
        let from = Utc.with_ymd_and_hms(2026, 3, 1, 3, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let keys: Vec<String> = Period::Month
            .buckets(from, to, chrono_tz::America::Los_Angeles)
            .into_iter()
            .map(bucket_key)
            .collect();
        assert_eq!(keys, ["2026-02-01", "2026-03-01"]);
    }

    #[test]
    fn a_period_starts_at_local_midnight() {
        let d = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        assert_eq!(
            Period::instant(d, chrono_tz::Europe::Berlin),
            Utc.with_ymd_and_hms(2026, 6, 30, 22, 0, 0).unwrap()
        );
        // Havana skips midnight when DST starts (2026-03-08).
        let d = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(
            Period::instant(d, chrono_tz::America::Havana),
            Utc.with_ymd_and_hms(2026, 3, 8, 5, 0, 0).unwrap()
        );
    }

    /// The SQL groups with `date_trunc(unit, …)`: the units are PostgreSQL's field names, whose
    /// weeks start on Monday as `start_of`'s do.
    #[test]
    fn periods_truncate_with_postgresqls_units() {
        let units = [Period::Day, Period::Week, Period::Month].map(Period::unit);
        assert_eq!(units, ["day", "week", "month"]);
        let sunday = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(Period::Week.start_of(sunday), monday);
    }
}
