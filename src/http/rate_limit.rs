//! Rate limiting: a token bucket per key (an API key, or a client address for requests that
//! carry no valid key), per replica (N replicas allow up to N times the rate). Over the limit
//! a request gets 429 `rate_limited` with `Retry-After`.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use uuid::Uuid;

/// Buckets per client address: unauthenticated attempts and the CRM integrations.
pub type AddressLimiter = RateLimiter<IpAddr>;

pub struct RateLimiter<K = Uuid> {
    /// Tokens added per second.
    rate: f64,
    /// Bucket size: requests a key may send at once after being idle.
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

/// Keys idle this long are forgotten (their bucket would be full anyway).
const IDLE: Duration = Duration::from_secs(600);

impl<K: Hash + Eq> RateLimiter<K> {
    /// `None` (no limit) when `per_second` is 0.
    pub fn new(per_second: f64, burst: u32) -> Option<Self> {
        (per_second > 0.0).then(|| RateLimiter {
            rate: per_second,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a token for `key` at `now`; when none is left, how long until one is.
    pub fn check(&self, key: K, now: Instant) -> Result<(), Duration> {
        self.take(key, now, 1.0)
    }

    /// Whether `key` has a token at `now`, without taking it.
    pub fn peek(&self, key: K, now: Instant) -> Result<(), Duration> {
        self.take(key, now, 0.0)
    }

    fn take(&self, key: K, now: Instant, cost: f64) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, at)| now.saturating_duration_since(*at) < IDLE);
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= cost;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let l = RateLimiter::new(2.0, 3).unwrap();
        let (k, t0) = (Uuid::now_v7(), Instant::now());
        for _ in 0..3 {
            assert!(l.check(k, t0).is_ok());
        }
        let wait = l.check(k, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9);
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.check(k, t1).is_ok());
        assert!(l.check(k, t1).is_err());
    }

    #[test]
    fn keys_have_their_own_buckets_and_zero_means_no_limit() {
        let l = RateLimiter::new(1.0, 1).unwrap();
        let t0 = Instant::now();
        assert!(l.check(Uuid::now_v7(), t0).is_ok());
        assert!(l.check(Uuid::now_v7(), t0).is_ok());
        assert!(RateLimiter::<Uuid>::new(0.0, 10).is_none());
    }

    #[test]
    fn peeking_takes_no_token() {
        let l = AddressLimiter::new(1.0, 1).unwrap();
        let (a, t0) = (IpAddr::from([127, 0, 0, 1]), Instant::now());
        assert!(l.peek(a, t0).is_ok());
        assert!(l.peek(a, t0).is_ok());
        assert!(l.check(a, t0).is_ok());
        assert!(l.peek(a, t0).is_err());
    }
}
