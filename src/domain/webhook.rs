//! Outbound webhook rules without I/O: the retry schedule (the signature is in
//! [`super::signature`]).

use chrono::{DateTime, Duration, Utc};

/// Deliveries are retried for this long after the event, then marked `dead`.
pub const GIVE_UP_AFTER: Duration = Duration::hours(24);

/// When to try again after `attempts` failed attempts: exponential from 1 s, capped at one
/// hour, with ±20 % jitter (`jitter` in [0, 1)) so a receiver coming back is not hit by every
/// delivery at once. `None` when the next try would be past [`GIVE_UP_AFTER`]: dead.
pub fn next_attempt(
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    attempts: u32,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    let base = 2f64
        .powi(attempts.saturating_sub(1).min(20) as i32)
        .min(3600.0);
    let delay = base * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    let at = now + Duration::milliseconds((delay * 1000.0) as i64);
    (at - created_at <= GIVE_UP_AFTER).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn retries_back_off_exponentially_then_give_up_after_a_day() {
        let created = t("2026-03-02T10:00:00Z");
        let next = |attempts, jitter| next_attempt(created, created, attempts, jitter).unwrap();
        assert_eq!(next(1, 0.5), created + Duration::seconds(1));
        assert_eq!(next(4, 0.5), created + Duration::seconds(8));
        assert_eq!(next(4, 0.0), created + Duration::milliseconds(6400));
        assert_eq!(next(40, 0.5), created + Duration::hours(1));
        assert_eq!(
            next_attempt(
                created,
                created + Duration::hours(23) + Duration::minutes(30),
                30,
                0.5
            ),
            None
        );
    }
}
