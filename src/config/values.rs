//! Settings that need more than one parse: checked ranges, rates, derived groups.

use std::time::Duration;

use super::{invalid, parse_duration, parse_retention, ConfigError, Raw, MAX_CACHE_TTL};
use crate::{domain::metrics::BandLimits, jobs::retention::Retention};

pub(super) fn model(raw: &Raw) -> Result<crate::service::model::ModelSettings, ConfigError> {
    let retrain_interval = parse_duration("model_retrain_interval", &raw.model_retrain_interval)?;
    Ok(crate::service::model::ModelSettings {
        retrain_interval,
        min_cycles: within("model_min_cycles", raw.model_min_cycles, 2..=100_000_000)?,
        min_support: within("model_min_support", raw.model_min_support, 1..=1_000_000)?,
    })
}

pub(super) fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// `value` when it lies in `range`.
pub(super) fn within<T>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: PartialOrd + std::fmt::Display,
{
    if range.contains(&value) {
        return Ok(value);
    }
    let message = format!("must be between {} and {}", range.start(), range.end());
    Err(invalid(key, message))
}

pub(super) fn rate(key: &str, v: f64) -> Result<f64, ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(invalid(
            key,
            "must be a number of requests per second, 0 for no limit",
        ))
    }
}

pub(super) fn public_url(raw: &Raw) -> Result<Option<String>, ConfigError> {
    let url = non_empty(raw.public_url.clone()).map(|u| u.trim_end_matches('/').to_string());
    if let Some(url) = &url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid("public_url", "must start with http:// or https://"));
        }
    }
    Ok(url)
}

pub(super) fn cache_ttl(raw: &Raw) -> Result<Duration, ConfigError> {
    let ttl = parse_duration("cache_ttl", &raw.cache_ttl)?;
    if ttl > MAX_CACHE_TTL {
        return Err(invalid(
            "cache_ttl",
            "must be at most 60s (the longest a replica may trust a cached key or policy)",
        ));
    }
    Ok(ttl)
}

pub(super) fn acceptance_bands(raw: &Raw) -> Result<BandLimits, ConfigError> {
    BandLimits::new(
        raw.acceptance_healthy_from,
        raw.acceptance_elevated_from,
        raw.acceptance_rubber_stamping_above,
    )
    .ok_or_else(|| {
        invalid(
            "acceptance_healthy_from",
            "the acceptance band limits must rise within 0..1: \
             acceptance_healthy_from <= acceptance_elevated_from <= \
             acceptance_rubber_stamping_above",
        )
    })
}

pub(super) fn retention(raw: &Raw) -> Result<Retention, ConfigError> {
    Ok(Retention {
        webhooks: parse_retention("retention_webhooks", &raw.retention_webhooks)?,
        dead_webhooks: parse_retention("retention_dead_webhooks", &raw.retention_dead_webhooks)?,
        receipts: parse_retention("retention_receipts", &raw.retention_receipts)?,
        auto_reps: parse_retention("retention_auto_reps", &raw.retention_auto_reps)?,
    })
}
