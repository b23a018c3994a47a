//! Notification retry schedule, without I/O.

use std::time::Duration;

/// A notification that failed this many times is dead (about 4.5 h of retries in all).
pub const MAX_ATTEMPTS: u32 = 15;

/// How long to wait after `attempts` failed attempts: exponential from 1 s, capped at one
/// hour, ±20 % jitter (`jitter` in [0, 1)) so recipients coming back are not hit by every
/// retry at once. `None` once `attempts` reaches `max_attempts`: dead.
pub fn retry_delay(attempts: u32, max_attempts: u32, jitter: f64) -> Option<Duration> {
    if attempts >= max_attempts {
        return None;
    }
    let base = 2f64
        .powi(attempts.saturating_sub(1).min(20) as i32)
        .min(3600.0);
    Some(Duration::from_secs_f64(
        base * (0.8 + 0.4 * jitter.clamp(0.0, 1.0)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_then_gives_up() {
        assert_eq!(retry_delay(1, 15, 0.5), Some(Duration::from_secs(1)));
        assert_eq!(retry_delay(4, 15, 0.5), Some(Duration::from_secs(8)));
        assert_eq!(retry_delay(4, 15, 0.0), Some(Duration::from_millis(6400)));
        assert_eq!(retry_delay(14, 15, 0.5), Some(Duration::from_secs(3600)));
        assert_eq!(retry_delay(15, 15, 0.5), None);
    }
}
