//! Outbound webhook rules without I/O: the signature of SPEC §7 and the retry schedule.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `Salgate-Signature`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
pub fn signature(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let t = at.timestamp();
    format!("t={t},v1={}", hex::encode(sign(secret, t, body)))
}

fn sign(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a `Salgate-Signature` header against `body` at `now` (constant-time comparison);
/// stale or future timestamps beyond `tolerance` fail.
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now.timestamp() - t).abs() > tolerance.num_seconds() {
        return false;
    }
    let expected = sign(secret, t, body);
    v1.iter()
        .any(|sig| subtle::ConstantTimeEq::ct_eq(sig.as_slice(), expected.as_slice()).into())
}

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
    fn signature_is_hmac_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let sig = signature("whsec_test", t("2023-11-14T22:13:20Z"), br#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn verify_accepts_its_own_signature_within_tolerance_only() {
        let at = t("2026-03-02T10:00:00Z");
        let header = signature("s3cret", at, b"body");
        let tol = Duration::seconds(300);
        assert!(verify(
            "s3cret",
            &header,
            b"body",
            at + Duration::seconds(299),
            tol
        ));
        assert!(!verify(
            "s3cret",
            &header,
            b"body",
            at + Duration::seconds(301),
            tol
        ));
        assert!(!verify("s3cret", &header, b"bodx", at, tol));
        assert!(!verify("other", &header, b"body", at, tol));
        assert!(!verify("s3cret", "v1=00", b"body", at, tol));
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
