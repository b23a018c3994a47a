//! Slack's request signature (v0): `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
//! "v0:<X-Slack-Request-Timestamp>:<raw body>")>`. Parsed strictly, as `Salgate-Signature` is
//! (`signature.rs`): one spelling per (timestamp, MAC), so a replay cannot hide behind a variant
//! (upper-case hex, a leading zero or sign on the timestamp, spaces).

use chrono::{DateTime, Duration, Utc};

use super::signature::{canonical, check, hmac_sha256};
pub use super::signature::{Signature, SignatureError};

/// The `X-Slack-Signature` value for `body` sent at unix time `t`.
pub fn header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("v0={}", hex::encode(mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> [u8; 32] {
    hmac_sha256(secret, &[format!("v0:{t}:").as_bytes(), body])
}

/// Parses the two headers: a timestamp of decimal digits (no sign, no leading zero) and
/// `v0=<64 lowercase hex>`.
pub fn parse(timestamp: &str, signature: &str) -> Result<Signature, SignatureError> {
    let hex_mac = signature
        .strip_prefix("v0=")
        .ok_or(SignatureError::Malformed)?;
    canonical(timestamp, hex_mac)
}

/// Parses the headers and checks them against `body` at `now`: the timestamp within
/// `tolerance`, the MAC compared in constant time.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<Signature, SignatureError> {
    let sig = parse(timestamp, signature)?;
    check(sig, |t| mac(secret, t, body), now, tolerance)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slack's own worked example ("Verifying requests from Slack"), also checked with
    /// `openssl dgst -sha256 -hmac`.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const T: i64 = 1_531_420_618;
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn at(t: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(t, 0).unwrap()
    }

    #[test]
    fn slacks_documented_example_signs_and_verifies() {
        assert_eq!(header(SECRET, T, BODY.as_bytes()), SIG);
        let tol = Duration::seconds(300);
        let ok = |now| verify(SECRET, "1531420618", SIG, BODY.as_bytes(), at(now), tol);
        assert!(ok(T + 300).is_ok());
        assert!(ok(T - 300).is_ok());
        assert_eq!(ok(T + 301), Err(SignatureError::Stale));
        assert_eq!(ok(T - 301), Err(SignatureError::Stale));
        let other = verify(SECRET, "1531420618", SIG, b"x", at(T), tol);
        assert_eq!(other, Err(SignatureError::Mismatch));
        let wrong_t = verify(SECRET, "1531420619", SIG, BODY.as_bytes(), at(T), tol);
        assert_eq!(wrong_t, Err(SignatureError::Mismatch));
    }

    #[test]
    fn only_the_one_canonical_spelling_parses() {
        assert!(parse("1531420618", SIG).is_ok());
        let mac = SIG.trim_start_matches("v0=");
        for (t, s) in [
            ("1531420618", format!("v0={}", mac.to_uppercase())),
            ("1531420618", format!("v1={mac}")),
            ("1531420618", format!(" v0={mac}")),
            ("1531420618", format!("v0={mac} ")),
            ("1531420618", format!("v0={}", &mac[..62])),
            ("1531420618", format!("v0={mac},v0={mac}")),
            ("01531420618", SIG.to_string()),
            ("+1531420618", SIG.to_string()),
            ("-1531420618", SIG.to_string()),
            (" 1531420618", SIG.to_string()),
            ("", SIG.to_string()),
            ("99999999999999999999", SIG.to_string()),
        ] {
            assert_eq!(parse(t, &s), Err(SignatureError::Malformed), "{t} {s}");
        }
    }
}
