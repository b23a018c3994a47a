//! Working-time arithmetic over business calendars (docs/api.md §3). Pure: callers pass instants.
//!
//! A calendar has an IANA zone, weekly windows in local wall-clock time (several a day), and
//! holiday dates. Durations count only time inside windows.
//!
//! Decisions:
//! - Window boundaries are local times converted to instants per day, so daylight saving is
//!   handled by the zone database: a boundary inside a spring-forward gap moves to the first
//!   instant after the gap; an ambiguous boundary (fall-back) resolves to the earlier instant
//!   for a start and the later for an end. A 00:00–24:00 window is 23 h or 25 h on switch days;
//!   a 09:00–17:00 window is 8 h (the switches in Europe and the US happen at night).
//! - `add_working(t, 0)` is `t`. A positive duration from outside hours starts counting at the
//!   next opening. A result lands inside a window or exactly at its end, never in a gap.
//! - Termination: a calendar must have at least one window. If holidays leave no working time
//!   for ten years, the rest of the duration is added as plain time (a misconfigured calendar
//!   gives a far deadline, never a hang).

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Minutes in a day; a window may end at 24:00.
const DAY_MINUTES: u32 = 24 * 60;
/// How far to look for working time before giving up (see the module docs).
const HORIZON_DAYS: i64 = 3660;

/// One working window on a weekday, in local minutes since midnight: `start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingWindow {
    pub weekday: Weekday,
    pub start: u32,
    pub end: u32,
}

impl WorkingWindow {
    /// Parses `HH:MM` times (`end` may be `24:00`).
    pub fn parse(weekday: Weekday, start: &str, end: &str) -> Result<Self, CalendarError> {
        let w = WorkingWindow {
            weekday,
            start: parse_hhmm(start).ok_or_else(|| CalendarError::BadTime(start.into()))?,
            end: parse_hhmm(end).ok_or_else(|| CalendarError::BadTime(end.into()))?,
        };
        if w.start >= w.end {
            return Err(CalendarError::Empty(w.to_string()));
        }
        Ok(w)
    }
}

impl std::fmt::Display for WorkingWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{} {}–{}", self.weekday, hm(self.start), hm(self.end))
    }
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let total = h * 60 + m;
    (m < 60 && total <= DAY_MINUTES).then_some(total)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("`{0}` is not a time like 09:00 (00:00 to 24:00)")]
    BadTime(String),
    #[error("window {0} is empty: its start must be before its end")]
    Empty(String),
    #[error("windows {0} and {1} overlap")]
    Overlap(String, String),
    #[error("a calendar needs at least one working window")]
    NoWindows,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: Tz,
    /// Sorted, non-overlapping `(start, end)` minutes per weekday (Monday = 0).
    days: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Calendar {
    pub fn new(
        tz: Tz,
        windows: Vec<WorkingWindow>,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        if windows.is_empty() {
            return Err(CalendarError::NoWindows);
        }
        let mut days: [Vec<WorkingWindow>; 7] = Default::default();
        for w in windows {
            if w.start >= w.end || w.end > DAY_MINUTES {
                return Err(CalendarError::Empty(w.to_string()));
            }
            days[w.weekday.num_days_from_monday() as usize].push(w);
        }
        let mut out: [Vec<(u32, u32)>; 7] = Default::default();
        for (i, day) in days.iter_mut().enumerate() {
            day.sort_by_key(|w| w.start);
            for pair in day.windows(2) {
                if pair[1].start < pair[0].end {
                    return Err(CalendarError::Overlap(
                        pair[0].to_string(),
                        pair[1].to_string(),
                    ));
                }
            }
            out[i] = day.iter().map(|w| (w.start, w.end)).collect();
        }
        Ok(Calendar {
            tz,
            days: out,
            holidays: holidays.into_iter().collect(),
        })
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The instant of local `minutes` on `date`; see the module docs for gaps and overlaps.
    fn instant(&self, date: NaiveDate, minutes: u32, earliest: bool) -> DateTime<Utc> {
        let (date, minutes) = if minutes == DAY_MINUTES {
            (date.succ_opt().unwrap_or(date), 0)
        } else {
            (date, minutes)
        };
        let mut local = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minutes));
        // A gap is at most a few hours; step through it to its first valid minute.
        for _ in 0..24 * 60 {
            match self.tz.from_local_datetime(&local) {
                LocalResult::Single(t) => return t.with_timezone(&Utc),
                LocalResult::Ambiguous(a, b) => {
                    return if earliest { a } else { b }.with_timezone(&Utc);
                }
                LocalResult::None => local += Duration::minutes(1),
            }
        }
        Utc.from_utc_datetime(&local)
    }

    /// Working intervals of a local date, in order.
    fn intervals(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let windows: &[(u32, u32)] = if self.holidays.contains(&date) {
            &[]
        } else {
            &self.days[date.weekday().num_days_from_monday() as usize]
        };
        windows
            .iter()
            .map(move |&(s, e)| (self.instant(date, s, true), self.instant(date, e, false)))
            .filter(|(s, e)| s < e)
    }

    /// Intervals that end after `t`, in order, for up to the horizon.
    fn intervals_from(
        &self,
        t: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        // Start a day early: a window of the previous local date can end after `t` around
        // daylight-saving changes.
        let first = t.with_timezone(&self.tz).date_naive() - Duration::days(1);
        (0..HORIZON_DAYS)
            .filter_map(move |i| first.checked_add_signed(Duration::days(i)))
            .flat_map(move |d| self.intervals(d))
            .filter(move |(_, e)| *e > t)
    }

    /// The instant at which `working` time has elapsed counting from `start`.
    pub fn add_working(&self, start: DateTime<Utc>, working: Duration) -> DateTime<Utc> {
        if working <= Duration::zero() {
            return start;
        }
        let mut remaining = working;
        for (s, e) in self.intervals_from(start) {
            let from = s.max(start);
            let available = e - from;
            if available >= remaining {
                return from + remaining;
            }
            remaining -= available;
        }
        start + Duration::days(HORIZON_DAYS) + remaining
    }

    /// Working time in `[a, b)`.
    pub fn working_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if b <= a {
            return total;
        }
        for (s, e) in self.intervals_from(a) {
            if s >= b {
                break;
            }
            total += e.min(b) - s.max(a);
        }
        total
    }

    /// `t` if it is inside a window, else the next opening.
    pub fn next_opening(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.intervals_from(t).next().map(|(s, _)| s.max(t))
    }

    pub fn is_working(&self, t: DateTime<Utc>) -> bool {
        self.next_opening(t) == Some(t)
    }
}

/// Adds working time; no calendar means 24×7.
pub fn add_working(
    calendar: Option<&Calendar>,
    start: DateTime<Utc>,
    working: Duration,
) -> DateTime<Utc> {
    match calendar {
        Some(c) => c.add_working(start, working),
        None => start + working,
    }
}

/// Parses an ISO 8601 duration of days, hours, minutes and whole seconds (`PT1H`, `P1DT2H`,
/// `PT90M`). A day is 24 h of working time. Years, months and weeks are refused as ambiguous.
pub fn parse_iso_duration(s: &str) -> Result<Duration, String> {
    let rest = s.strip_prefix('P').ok_or_else(|| {
        format!("`{s}` is not an ISO 8601 duration (it must start with P, e.g. PT1H)")
    })?;
    let (date, time) = match rest.split_once('T') {
        Some((_, "")) => return Err(format!("`{s}` has a T with nothing after it")),
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total = Duration::zero();
    let mut parts = 0;
    for (text, units) in [(date, "D"), (time, "HMS")] {
        let mut number = String::new();
        let mut last_unit = None;
        for c in text.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let pos = units.find(c).ok_or_else(|| match c {
                'Y' | 'W' => format!("`{s}`: years and weeks are not allowed (use days or hours)"),
                'M' if units == "D" => format!("`{s}`: months are not allowed (use days)"),
                _ => format!("`{s}`: unexpected `{c}`"),
            })?;
            if last_unit.is_some_and(|l| pos <= l) || number.is_empty() {
                return Err(format!("`{s}` is not a valid ISO 8601 duration"));
            }
            let n: i64 = number
                .parse()
                .map_err(|_| format!("`{s}`: number too large"))?;
            let unit = match c {
                'D' => Duration::try_days(n),
                'H' => Duration::try_hours(n),
                'M' => Duration::try_minutes(n),
                _ => Duration::try_seconds(n),
            }
            .ok_or_else(|| format!("`{s}`: number too large"))?;
            total = total
                .checked_add(&unit)
                .ok_or_else(|| format!("`{s}` is too long"))?;
            number.clear();
            last_unit = Some(pos);
            parts += 1;
        }
        if !number.is_empty() {
            return Err(format!("`{s}`: a number lacks its unit"));
        }
    }
    if parts == 0 {
        return Err(format!("`{s}` has no parts"));
    }
    Ok(total)
}

/// Formats a non-negative duration as ISO 8601 (`P1DT2H30M`, `PT0S`).
pub fn format_iso_duration(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if h > 0 || m > 0 || s > 0 || days == 0 {
        out.push('T');
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if s > 0 || (h == 0 && m == 0) {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
