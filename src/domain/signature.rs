//! `Salgate-Signature` (docs/api.md §7): `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw
//! body>")>`. One strict grammar, used to sign outbound webhooks and to verify signed ingest:
//! a header has exactly one spelling per (t, MAC), so a replay cannot hide behind a variant
//! (upper-case hex, `t=+T`, `t=0T`, spaces, a second `v1=`, reordered fields).

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A parsed header: the timestamp and the decoded MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub t: i64,
    pub mac: [u8; 32],
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Not exactly `t=<digits>,v1=<64 lowercase hex>`.
    Malformed,
    /// The timestamp is outside the tolerance.
    Stale,
    /// Well-formed and fresh, but not the MAC of this body with this secret.
    Mismatch,
}

/// The header for `body` signed at `at`.
pub fn header(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let t = at.timestamp();
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> [u8; 32] {
    hmac_sha256(secret, &[format!("{t}.").as_bytes(), body])
}

/// Parses `t=<decimal, no sign, no leading zero>,v1=<64 lowercase hex>` and nothing else.
pub fn parse(header: &str) -> Result<Signature, SignatureError> {
    let rest = header.strip_prefix("t=").ok_or(SignatureError::Malformed)?;
    let (t, v1) = rest.split_once(",v1=").ok_or(SignatureError::Malformed)?;
    canonical(t, v1)
}

/// Parses `header` and checks it against `body` at `now` (constant-time MAC comparison).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<Signature, SignatureError> {
    let sig = parse(header)?;
    check(sig, |t| mac(secret, t, body), now, tolerance)
}

// What every strict HMAC-SHA256 signature here shares (this header and Slack's v0).

/// HMAC-SHA256 of the concatenated `parts` under `secret`.
pub(super) fn hmac_sha256(secret: &str, parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// A timestamp of decimal digits (no sign, no leading zero, at most 18) and a MAC of exactly
/// 64 lower-case hex digits, or `Malformed`: one spelling per (t, MAC).
pub(super) fn canonical(t: &str, hex_mac: &str) -> Result<Signature, SignatureError> {
    let canonical_t =
        (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) && !t.starts_with('0');
    let lower_hex = hex_mac.len() == 64
        && hex_mac
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !(canonical_t && lower_hex) {
        return Err(SignatureError::Malformed);
    }
    let t = t.parse().map_err(|_| SignatureError::Malformed)?;
    let mut mac = [0u8; 32];
    hex::decode_to_slice(hex_mac, &mut mac).map_err(|_| SignatureError::Malformed)?;
    Ok(Signature { t, mac })
}

/// `sig` is within `tolerance` of `now` and its MAC equals `expected(sig.t)`, compared in
/// constant time.
pub(super) fn check(
    sig: Signature,
    expected: impl FnOnce(i64) -> [u8; 32],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<Signature, SignatureError> {
    if (now.timestamp() - sig.t).abs() > tolerance.num_seconds() {
        return Err(SignatureError::Stale);
    }
    let expected = expected(sig.t);
    if bool::from(subtle::ConstantTimeEq::ct_eq(&sig.mac[..], &expected[..])) {
        Ok(sig)
    } else {
        Err(SignatureError::Mismatch)
    }
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
        let sig = header("whsec_test", t("2023-11-14T22:13:20Z"), br#"{"a":1}"#);
        assert_eq!(
            sig,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_eq!(parse(&sig).unwrap().t, 1_700_000_000);
    }

    #[test]
    fn verify_accepts_its_own_signature_within_tolerance_only() {
        let at = t("2026-03-02T10:00:00Z");
        let h = header("s3cret", at, b"body");
        let tol = Duration::seconds(300);
        let ok = |secret, body: &[u8], now| verify(secret, &h, body, now, tol);
        assert!(ok("s3cret", b"body", at + Duration::seconds(299)).is_ok());
        assert_eq!(
            ok("s3cret", b"body", at + Duration::seconds(301)),
            Err(SignatureError::Stale)
        );
        assert_eq!(ok("s3cret", b"bodx", at), Err(SignatureError::Mismatch));
        assert_eq!(ok("other", b"body", at), Err(SignatureError::Mismatch));
    }

    #[test]
    fn only_the_one_canonical_spelling_parses() {
        let good = header("s3cret", t("2026-03-02T10:00:00Z"), b"body");
        assert!(parse(&good).is_ok());
        let (ts, mac) = good.split_once(",v1=").unwrap();
        let ts = ts.trim_start_matches("t=");
        let variants = [
            format!("t={ts},v1={}", mac.to_uppercase()),
            format!("t=+{ts},v1={mac}"),
            format!("t=0{ts},v1={mac}"),
            format!("t=-{ts},v1={mac}"),
            format!("t={ts}, v1={mac}"),
            format!(" t={ts},v1={mac}"),
            format!("t={ts},v1={mac} "),
            format!("t={ts},v1={mac},v1={mac}"),
            format!("t={ts},v1=00,v1={mac}"),
            format!("v1={mac},t={ts}"),
            format!("t={ts},v0=x,v1={mac}"),
            format!("t={ts},v1={}", &mac[..62]),
            format!("t={ts},v1={mac}00"),
            format!("t=,v1={mac}"),
            format!("t=0,v1={mac}"),
            format!("t=99999999999999999999,v1={mac}"),
            "v1=00".to_string(),
            String::new(),
        ];
        for v in &variants {
            assert_eq!(parse(v), Err(SignatureError::Malformed), "{v}");
        }
    }
}
