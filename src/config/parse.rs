//! The value formats of the settings: durations, retention periods, inbound secrets.

use std::time::Duration;

use super::{invalid, ConfigError};
use crate::domain::slug::SlugKind;

/// Parses `source=secret,source=secret` (empty: none).
pub(super) fn parse_secrets(
    raw: &str,
) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
    let mut out = std::collections::BTreeMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((source, secret))
                if SlugKind::Key.matches(source.trim()) && secret.trim().len() >= 16 =>
            {
                out.insert(source.trim().to_string(), secret.trim().to_string());
            }
            _ => {
                return Err(invalid(
                    "inbound_secrets",
                    "must be source=secret pairs separated by commas, sources as in leads \
                     (lowercase letters, digits, `_-.`), secrets of 16+ characters",
                ))
            }
        }
    }
    Ok(out)
}

/// Parses `500ms`, `15s`, `2m`, `1h`, `400d` (a positive whole number and a unit).
pub fn parse_duration_str(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    Some(d)
}

/// A retention period: a duration as [`parse_duration_str`] or whole days (`30d`); `0` or
/// `off` keeps rows forever (`None`).
pub(super) fn parse_retention(key: &str, value: &str) -> Result<Option<Duration>, ConfigError> {
    let v = value.trim();
    if v == "0" || v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let days = v
        .strip_suffix('d')
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(86_400))
        .map(Duration::from_secs);
    match days.or_else(|| parse_duration_str(v)) {
        Some(d) if !d.is_zero() => Ok(Some(d)),
        _ => Err(invalid(
            key,
            format!("`{value}` is not a retention period like 30d or 12h, or 0/off for none"),
        )),
    }
}

pub(super) fn parse_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    match parse_duration_str(value) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(invalid(
            key,
            format!("`{value}` is not a positive duration like 500ms, 15s, 2m, 1h or 400d"),
        )),
    }
}
