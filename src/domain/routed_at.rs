//! When a lead may say it was routed (docs/api.md §5 `routed_at`): not more than 5 minutes ahead of
//! our clock, not older than `SALGATE_ROUTED_AT_MAX_AGE`, never before 1970. A lead routed
//! long ago would start its cycle already breached and skew every report of that period.

use chrono::{DateTime, Duration, Utc};

use super::dates;

/// How far in the future `routed_at` may lie (clock skew between the CRM and us).
pub const MAX_ROUTED_AT_SKEW: Duration = Duration::minutes(5);

/// The default of `SALGATE_ROUTED_AT_MAX_AGE`: a year of history can still be imported.
pub const DEFAULT_MAX_AGE: Duration = Duration::days(400);

/// The accepted `routed_at` times at one clock reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutedAtWindow {
    /// The injected clock's reading; also the default `routed_at`.
    pub now: DateTime<Utc>,
    /// `SALGATE_ROUTED_AT_MAX_AGE`.
    pub max_age: Duration,
}

impl RoutedAtWindow {
    pub fn new(now: DateTime<Utc>, max_age: Duration) -> Self {
        RoutedAtWindow { now, max_age }
    }

    /// The earliest accepted time: `now - max_age`, but not before 1970.
    pub fn earliest(&self) -> DateTime<Utc> {
        let floor = dates::earliest_instant();
        self.now
            .checked_sub_signed(self.max_age)
            .map_or(floor, |t| t.max(floor))
    }

    /// `Ok` when `t` is accepted, else the message for the field.
    pub fn check(&self, t: DateTime<Utc>) -> Result<(), String> {
        if t > self.now + MAX_ROUTED_AT_SKEW {
            return Err("must not be more than 5 minutes in the future".into());
        }
        let earliest = self.earliest();
        if t < earliest {
            let age = match self.max_age.num_days() {
                0 => format!("{} hours", self.max_age.num_hours()),
                d => format!("{d} days"),
            };
            return Err(format!(
                "must not be before {} (older than {age}, SALGATE_ROUTED_AT_MAX_AGE)",
                earliest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> RoutedAtWindow {
        RoutedAtWindow::new("2026-03-02T10:00:00Z".parse().unwrap(), DEFAULT_MAX_AGE)
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn accepts_from_400_days_back_to_5_minutes_ahead() {
        let w = window();
        assert!(w.check(t("2026-03-02T10:05:00Z")).is_ok());
        assert!(w.check(t("2026-03-02T10:05:01Z")).is_err());
        assert_eq!(w.earliest(), t("2025-01-26T10:00:00Z"));
        assert!(w.check(t("2025-01-26T10:00:00Z")).is_ok());
        let e = w.check(t("2025-01-26T09:59:59Z")).unwrap_err();
        assert!(
            e.contains("2025-01-26T10:00:00Z") && e.contains("400 days"),
            "{e}"
        );
    }

    #[test]
    fn never_before_1970_whatever_the_window() {
        let w = RoutedAtWindow::new(window().now, Duration::MAX);
        assert_eq!(w.earliest(), dates::earliest_instant());
        assert!(w.check(t("1969-12-31T23:59:59Z")).is_err());
        assert!(w.check(t("0000-01-01T00:00:00Z")).is_err());
        assert!(w.check(t("1970-01-01T00:00:00Z")).is_ok());
    }
}
