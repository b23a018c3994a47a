//! Configuration: built-in defaults (`config/default.toml`, compiled in), an optional file named by
//! `SALGATE_CONFIG`, then the environment. Names of environment variables are fixed by the spec.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use serde::Deserialize;

use crate::{
    domain::{metrics::BandLimits, slug::SlugKind},
    jobs::retention::Retention,
};

mod salesforce;

const DEFAULTS: &str = include_str!("../config/default.toml");

/// Longest `SALGATE_CACHE_TTL`: the fallback bound on how long a revoked key can keep
/// working on a replica that missed the revocation notice.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(60);

/// Validated settings the service runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the HTTP server binds (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Directory of the embedded PostgreSQL cluster.
    pub data_dir: PathBuf,
    /// External PostgreSQL; `None` means run the embedded cluster.
    pub database_url: Option<String>,
    /// Maximum connections in the pool.
    pub database_max_connections: u32,
    /// Period of the SLA scanner.
    pub sla_scan_interval: Duration,
    /// Leads the SLA scanner claims per transaction (it repeats until nothing is due).
    pub sla_scan_batch: i64,
    /// Period of the outbox dispatcher.
    pub outbox_poll_interval: Duration,
    /// Public base URL, when the service runs behind a proxy.
    pub public_url: Option<String>,
    /// HubSpot app client secret (v3 signatures).
    pub hubspot_client_secret: Option<String>,
    /// Salesforce organization id accepted by the outbound-message endpoint.
    pub salesforce_org_id: Option<String>,
    /// Tracing filter.
    pub log: String,
    /// How long an API key lookup is cached per replica.
    pub cache_ttl: Duration,
    /// Lead sources whose `POST /v1/leads` must carry a valid `Salgate-Signature`, with the
    /// secret of each.
    pub inbound_secrets: std::collections::BTreeMap<String, String>,
    /// Requests per second each API key may send to one replica (0 = no limit)…
    pub rate_limit_per_second: f64,
    /// …and how many at once after being idle.
    pub rate_limit_burst: u32,
    /// Period of the cycle compactor behind the unfiltered acceptance report.
    pub metrics_compact_interval: Duration,
    /// Acceptance-rate health bands of the metrics reports.
    pub acceptance_bands: BandLimits,
    /// Leads whose `routed_at` is older than this are refused with 422 (default 400 days, so a
    /// year of history can still be imported).
    pub routed_at_max_age: Duration,
    /// Authentication without an API key, and of unauthenticated requests: the secret that
    /// Salesforce's Outbound Message URL carries (`?token=`; required with an org id), the
    /// networks Salesforce may send from (empty: any), and the per-client-address limit of
    /// requests that fail authentication (0 = no limit).
    pub salesforce_token: Option<String>,
    pub salesforce_allowed_networks: Vec<crate::domain::network::Network>,
    pub unauthenticated_rate_limit_per_second: f64,
    pub unauthenticated_rate_limit_burst: u32,
    /// Outbound webhooks: may they reach private and loopback addresses over plain http
    /// (on-premise receivers, tests)? How many POSTs may one replica have in flight (shared
    /// fairly between subscriptions)? After how many consecutive failed attempts, spread over
    /// at least how long, is a subscription paused?
    pub webhook_allow_private_networks: bool,
    pub webhook_concurrency: usize,
    pub webhook_pause_after_failures: u32,
    pub webhook_pause_after: Duration,
    /// Batch requests one replica handles at once (each up to 16 MiB: this bounds memory)…
    pub batch_concurrency: usize,
    /// …and how long another waits for its turn before a 503.
    pub batch_wait: Duration,
    /// How long purgeable rows are kept (`0`/`off`: forever), and how often the purge runs.
    pub retention: Retention,
    pub retention_interval: Duration,
}

/// The raw shape read from files and the environment; strings are parsed in [`Settings::load`]
/// so that an error can name the setting and the variable that set it.
#[derive(Debug, Deserialize)]
struct Raw {
    listen: String,
    data_dir: PathBuf,
    database_url: Option<String>,
    database_max_connections: u32,
    sla_scan_interval: String,
    sla_scan_batch: i64,
    outbox_poll_interval: String,
    public_url: Option<String>,
    hubspot_client_secret: Option<String>,
    salesforce_org_id: Option<String>,
    log: String,
    cache_ttl: String,
    #[serde(default)]
    inbound_secrets: String,
    metrics_compact_interval: String,
    rate_limit_per_second: f64,
    rate_limit_burst: u32,
    acceptance_healthy_from: f64,
    acceptance_elevated_from: f64,
    acceptance_rubber_stamping_above: f64,
    routed_at_max_age: String,
    salesforce_token: Option<String>,
    #[serde(default)]
    salesforce_allowed_networks: String,
    unauthenticated_rate_limit_per_second: f64,
    unauthenticated_rate_limit_burst: u32,
    webhook_allow_private_networks: bool,
    webhook_concurrency: usize,
    webhook_pause_after_failures: u32,
    webhook_pause_after: String,
    batch_concurrency: usize,
    batch_wait: String,
    retention_webhooks: String,
    retention_dead_webhooks: String,
    retention_receipts: String,
    retention_auto_reps: String,
    retention_interval: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting} (environment variable {env}): {message}")]
pub struct ConfigError {
    pub setting: String,
    pub env: String,
    pub message: String,
}

fn env_name(key: &str) -> String {
    if key == "database_url" {
        "DATABASE_URL".into()
    } else {
        format!("SALGATE_{}", key.to_uppercase())
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: key.into(),
        env: env_name(key),
        message: message.into(),
    }
}

impl Settings {
    /// Defaults, then `$SALGATE_CONFIG` (a TOML file) if set, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULTS));
        if let Ok(path) = std::env::var("SALGATE_CONFIG") {
            if !std::path::Path::new(&path).is_file() {
                return Err(invalid("config", format!("file {path} does not exist")));
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment
            .merge(Env::prefixed("SALGATE_").ignore(&["CONFIG", "PG_BIN"]))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            );
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: Raw = figment.extract().map_err(|e| {
            let key = e.path.first().cloned().unwrap_or_else(|| "config".into());
            invalid(&key, e.kind.to_string())
        })?;
        let listen = raw.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("`{}` is not an address like 127.0.0.1:8080", raw.listen),
            )
        })?;
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let database_url = non_empty(raw.database_url);
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(invalid(
                    "database_url",
                    "must start with postgres:// or postgresql://",
                ));
            }
        }
        if raw.database_max_connections == 0 {
            return Err(invalid("database_max_connections", "must be at least 1"));
        }
        let public_url = non_empty(raw.public_url).map(|u| u.trim_end_matches('/').to_string());
        if let Some(url) = &public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid("public_url", "must start with http:// or https://"));
            }
        }
        let acceptance_bands = BandLimits::new(
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
        })?;
        let (salesforce_org_id, salesforce_token, salesforce_allowed_networks) =
            salesforce::settings(
                non_empty(raw.salesforce_org_id),
                non_empty(raw.salesforce_token),
                &raw.salesforce_allowed_networks,
            )?;
        let cache_ttl = parse_duration("cache_ttl", &raw.cache_ttl)?;
        if cache_ttl > MAX_CACHE_TTL {
            return Err(invalid(
                "cache_ttl",
                "must be at most 60s (the longest a replica may trust a cached key or policy)",
            ));
        }
        let rate = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(invalid(
                    key,
                    "must be a number of requests per second, 0 for no limit",
                ))
            }
        };
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&raw.log) {
            return Err(invalid("log", e.to_string()));
        }
        Ok(Settings {
            listen,
            data_dir: raw.data_dir,
            database_url,
            database_max_connections: raw.database_max_connections,
            sla_scan_interval: parse_duration("sla_scan_interval", &raw.sla_scan_interval)?,
            sla_scan_batch: if (1..=100_000).contains(&raw.sla_scan_batch) {
                raw.sla_scan_batch
            } else {
                return Err(invalid("sla_scan_batch", "must be between 1 and 100000"));
            },
            outbox_poll_interval: parse_duration(
                "outbox_poll_interval",
                &raw.outbox_poll_interval,
            )?,
            public_url,
            hubspot_client_secret: non_empty(raw.hubspot_client_secret),
            salesforce_org_id,
            log: raw.log,
            cache_ttl,
            inbound_secrets: parse_secrets(&raw.inbound_secrets)?,
            metrics_compact_interval: parse_duration(
                "metrics_compact_interval",
                &raw.metrics_compact_interval,
            )?,
            rate_limit_per_second: rate("rate_limit_per_second", raw.rate_limit_per_second)?,
            rate_limit_burst: raw.rate_limit_burst,
            acceptance_bands,
            routed_at_max_age: parse_duration("routed_at_max_age", &raw.routed_at_max_age)?,
            salesforce_token,
            salesforce_allowed_networks,
            unauthenticated_rate_limit_per_second: rate(
                "unauthenticated_rate_limit_per_second",
                raw.unauthenticated_rate_limit_per_second,
            )?,
            unauthenticated_rate_limit_burst: raw.unauthenticated_rate_limit_burst,
            webhook_allow_private_networks: raw.webhook_allow_private_networks,
            webhook_concurrency: if (1..=1024).contains(&raw.webhook_concurrency) {
                raw.webhook_concurrency
            } else {
                return Err(invalid("webhook_concurrency", "must be between 1 and 1024"));
            },
            webhook_pause_after_failures: raw.webhook_pause_after_failures.max(1),
            webhook_pause_after: parse_duration("webhook_pause_after", &raw.webhook_pause_after)?,
            batch_concurrency: if (1..=64).contains(&raw.batch_concurrency) {
                raw.batch_concurrency
            } else {
                return Err(invalid("batch_concurrency", "must be between 1 and 64"));
            },
            batch_wait: parse_duration("batch_wait", &raw.batch_wait)?,
            retention: Retention {
                webhooks: parse_retention("retention_webhooks", &raw.retention_webhooks)?,
                dead_webhooks: parse_retention(
                    "retention_dead_webhooks",
                    &raw.retention_dead_webhooks,
                )?,
                receipts: parse_retention("retention_receipts", &raw.retention_receipts)?,
                auto_reps: parse_retention("retention_auto_reps", &raw.retention_auto_reps)?,
            },
            retention_interval: parse_duration("retention_interval", &raw.retention_interval)?,
        })
    }
}

/// Parses `source=secret,source=secret` (empty: none).
fn parse_secrets(raw: &str) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
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
fn parse_retention(key: &str, value: &str) -> Result<Option<Duration>, ConfigError> {
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

fn parse_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    match parse_duration_str(value) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(invalid(
            key,
            format!("`{value}` is not a positive duration like 500ms, 15s, 2m, 1h or 400d"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut f = Figment::new().merge(Toml::string(DEFAULTS));
        for (k, v) in pairs {
            f = f.merge(figment::providers::Serialized::default(k, v));
        }
        Settings::from_figment(f)
    }

    #[test]
    fn acceptance_bands_that_do_not_rise_stop_start_up() {
        let with_number = |key: &str, value: f64| {
            Settings::from_figment(
                Figment::new()
                    .merge(Toml::string(DEFAULTS))
                    .merge(figment::providers::Serialized::default(key, value)),
            )
        };
        let e = with_number("acceptance_elevated_from", 0.5).unwrap_err();
        assert_eq!(e.env, "SALGATE_ACCEPTANCE_HEALTHY_FROM");
        let s = with_number("acceptance_rubber_stamping_above", 0.9).unwrap();
        assert_eq!(s.acceptance_bands.rubber_stamping_above, 0.9);
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = with(&[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.is_none());
        assert_eq!(s.sla_scan_interval, Duration::from_secs(15));
        // Outbound webhooks reach public https targets only unless told otherwise.
        assert!(!s.webhook_allow_private_networks);
        assert_eq!(s.webhook_concurrency, 32);
        assert_eq!(s.routed_at_max_age, Duration::from_secs(400 * 86_400));
    }

    #[test]
    fn routed_at_max_age_takes_days_and_names_its_variable() {
        let s = with(&[("routed_at_max_age", "30d")]).unwrap();
        assert_eq!(s.routed_at_max_age, Duration::from_secs(30 * 86_400));
        let err = with(&[("routed_at_max_age", "a year")]).unwrap_err();
        assert_eq!(err.env, "SALGATE_ROUTED_AT_MAX_AGE");
        let err = with(&[("inbound_secrets", "Hub Spot=0123456789abcdef")]).unwrap_err();
        assert_eq!(err.env, "SALGATE_INBOUND_SECRETS");
    }

    #[test]
    fn durations_accept_the_documented_units() {
        assert_eq!(
            parse_duration_str("500ms"),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration_str("15s"), Some(Duration::from_secs(15)));
        assert_eq!(parse_duration_str("2m"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_duration_str("400d"),
            Some(Duration::from_secs(400 * 86_400))
        );
        assert_eq!(parse_duration_str("15"), None);
        assert_eq!(parse_duration_str("s"), None);
        assert_eq!(parse_duration_str("1.5s"), None);
    }

    #[test]
    fn a_malformed_interval_names_its_environment_variable() {
        let err = with(&[("sla_scan_interval", "soon")]).unwrap_err();
        assert_eq!(err.env, "SALGATE_SLA_SCAN_INTERVAL");
        assert!(
            err.to_string().contains("SALGATE_SLA_SCAN_INTERVAL"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_listen_address_names_its_setting() {
        let err = with(&[("listen", "localhost")]).unwrap_err();
        assert_eq!(err.env, "SALGATE_LISTEN");
    }

    #[test]
    fn the_cache_ttl_is_bounded() {
        assert!(with(&[("cache_ttl", "60s")]).is_ok());
        let err = with(&[("cache_ttl", "1000h")]).unwrap_err();
        assert_eq!(err.env, "SALGATE_CACHE_TTL");
        assert_eq!(
            with(&[("cache_ttl", "61s")]).unwrap_err().env,
            "SALGATE_CACHE_TTL"
        );
    }

    #[test]
    fn retention_periods_take_days_and_off() {
        let s = with(&[]).unwrap();
        assert_eq!(s.retention.webhooks, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(s.retention.auto_reps, None);
        let s = with(&[("retention_receipts", "off"), ("retention_webhooks", "12h")]).unwrap();
        assert_eq!(s.retention.receipts, None);
        assert_eq!(s.retention.webhooks, Some(Duration::from_secs(12 * 3600)));
        let err = with(&[("retention_dead_webhooks", "soon")]).unwrap_err();
        assert_eq!(err.env, "SALGATE_RETENTION_DEAD_WEBHOOKS");
    }

    #[test]
    fn a_non_postgres_database_url_is_refused() {
        let err = with(&[("database_url", "mysql://x")]).unwrap_err();
        assert_eq!(err.env, "DATABASE_URL");
    }
}
