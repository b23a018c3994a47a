//! Configuration: built-in defaults (`config/default.toml`, compiled in), an optional file named by
//! `SALGATE_CONFIG`, then the environment. Names of environment variables are fixed by the spec.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
use serde::Deserialize;

use crate::{domain::metrics::BandLimits, jobs::retention::Retention};

mod crm;
mod database;
#[cfg(test)]
mod docs_tests;
mod notify;
mod parse;
mod salesforce;
#[cfg(test)]
mod tests;
mod values;

pub use database::ReadReplicaSettings;
pub use parse::parse_duration_str;
use parse::{parse_duration, parse_retention, parse_secrets};
use values::{acceptance_bands, cache_ttl, model, non_empty, public_url, rate, retention, within};

const DEFAULTS: &str = include_str!("../../config/default.toml");

/// Variables with the `SALGATE_` prefix that are not settings: read before the settings are
/// (the configuration file) or by the embedded cluster (its binaries).
const NOT_SETTINGS: &[&str] = &["CONFIG", "PG_BIN"];

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
    /// The read replica for reports and listings, and when to stop trusting it.
    pub read_replica: Option<database::ReadReplicaSettings>,
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
    /// The `attributes` keys that are lead features (docs/api.md "Feature normalisation").
    pub feature_attributes: Vec<String>,
    /// Cycles a value needs before the rejection-drivers report shows it.
    pub driver_min_support: i64,
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
    /// Email notifications: the SMTP server (`smtp://` STARTTLS, `smtps://` TLS, credentials
    /// in the URL), the From address, and whether `smtp://` may run without TLS (a relay on
    /// this host, tests). No URL: no email transport, and no email rows are written.
    pub smtp_url: Option<String>,
    pub email_from: Option<String>,
    pub smtp_allow_plaintext: bool,
    /// Period of the notification dispatcher.
    pub notify_poll_interval: Duration,
    /// Slack: bot token, signing secret, Web API base (issue 17, docs/slack.md).
    pub slack: crate::notify::slack::SlackSettings,
    /// CRM write-back: HubSpot's token and API, Salesforce's client credentials, the
    /// mappings, the writer's period (docs/crm.md).
    pub crm: crate::crm::CrmSettings,
    /// The acceptance model: retrain interval, minimum labelled cycles, minimum support.
    pub model: crate::service::model::ModelSettings,
}

/// The raw shape read from files and the environment; strings are parsed in [`Settings::load`]
/// so that an error can name the setting and the variable that set it.
#[derive(Debug, Deserialize)]
struct Raw {
    listen: String,
    data_dir: PathBuf,
    database_url: Option<String>,
    database_max_connections: u32,
    database_read_url: Option<String>,
    read_max_lag: String,
    read_lag_interval: String,
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
    #[serde(default)]
    feature_attributes: String,
    driver_min_support: i64,
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
    smtp_url: Option<String>,
    email_from: Option<String>,
    smtp_allow_plaintext: bool,
    notify_poll_interval: String,
    slack_bot_token: Option<String>,
    slack_signing_secret: Option<String>,
    slack_api_url: String,
    hubspot_access_token: Option<String>,
    hubspot_api_url: String,
    hubspot_lead_status_map: String,
    hubspot_fields: String,
    salesforce_login_url: String,
    salesforce_client_id: Option<String>,
    salesforce_client_secret: Option<String>,
    salesforce_api_version: String,
    salesforce_lead_status_map: String,
    salesforce_fields: String,
    crm_poll_interval: String,
    model_retrain_interval: String,
    model_min_cycles: u64,
    model_min_support: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting} (environment variable {env}): {message}")]
pub struct ConfigError {
    pub setting: String,
    pub env: String,
    pub message: String,
}

/// The variables without the `SALGATE_` prefix, and the settings they set.
const UNPREFIXED: &[(&str, &str)] = &[
    ("DATABASE_URL", "database_url"),
    ("DATABASE_READ_URL", "database_read_url"),
];

fn env_name(key: &str) -> String {
    match UNPREFIXED.iter().find(|(_, k)| *k == key) {
        Some((env, _)) => (*env).into(),
        None => format!("SALGATE_{}", key.to_uppercase()),
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
            .merge(Env::prefixed("SALGATE_").ignore(NOT_SETTINGS))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL", "DATABASE_READ_URL"])
                    .map(|env| {
                        let key = UNPREFIXED.iter().find(|(e, _)| env == *e);
                        key.map_or("database_url", |(_, k)| k).into()
                    }),
            );
        Self::from_figment(figment)
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: Raw = figment.extract().map_err(|e| {
            let key = e.path.first().cloned().unwrap_or_else(|| "config".into());
            invalid(&key, e.kind.to_string())
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Self, ConfigError> {
        let listen = raw.listen.parse().map_err(|_| {
            invalid(
                "listen",
                format!("`{}` is not an address like 127.0.0.1:8080", raw.listen),
            )
        })?;
        tracing_subscriber::EnvFilter::try_new(&raw.log)
            .map_err(|e| invalid("log", e.to_string()))?;
        let (salesforce_org_id, salesforce_token, salesforce_allowed_networks) =
            salesforce::settings(
                non_empty(raw.salesforce_org_id.clone()),
                non_empty(raw.salesforce_token.clone()),
                &raw.salesforce_allowed_networks,
            )?;
        let (smtp_url, email_from) = notify::email(&raw)?;
        Ok(Settings {
            listen,
            data_dir: raw.data_dir.clone(),
            database_url: database::url("database_url", &raw.database_url)?,
            read_replica: database::read_replica(&raw)?,
            database_max_connections: match raw.database_max_connections {
                0 => return Err(invalid("database_max_connections", "must be at least 1")),
                n => n,
            },
            sla_scan_interval: parse_duration("sla_scan_interval", &raw.sla_scan_interval)?,
            sla_scan_batch: within("sla_scan_batch", raw.sla_scan_batch, 1..=100_000)?,
            outbox_poll_interval: parse_duration(
                "outbox_poll_interval",
                &raw.outbox_poll_interval,
            )?,
            public_url: public_url(&raw)?,
            hubspot_client_secret: non_empty(raw.hubspot_client_secret.clone()),
            salesforce_org_id,
            log: raw.log.clone(),
            cache_ttl: cache_ttl(&raw)?,
            inbound_secrets: parse_secrets(&raw.inbound_secrets)?,
            metrics_compact_interval: parse_duration(
                "metrics_compact_interval",
                &raw.metrics_compact_interval,
            )?,
            rate_limit_per_second: rate("rate_limit_per_second", raw.rate_limit_per_second)?,
            rate_limit_burst: raw.rate_limit_burst,
            acceptance_bands: acceptance_bands(&raw)?,
            routed_at_max_age: parse_duration("routed_at_max_age", &raw.routed_at_max_age)?,
            feature_attributes: crate::domain::features::parse_attribute_keys(
                &raw.feature_attributes,
            )
            .map_err(|m| invalid("feature_attributes", m))?,
            driver_min_support: within(
                "driver_min_support",
                raw.driver_min_support,
                1..=1_000_000,
            )?,
            salesforce_token,
            salesforce_allowed_networks,
            unauthenticated_rate_limit_per_second: rate(
                "unauthenticated_rate_limit_per_second",
                raw.unauthenticated_rate_limit_per_second,
            )?,
            unauthenticated_rate_limit_burst: raw.unauthenticated_rate_limit_burst,
            webhook_allow_private_networks: raw.webhook_allow_private_networks,
            webhook_concurrency: within("webhook_concurrency", raw.webhook_concurrency, 1..=1024)?,
            webhook_pause_after_failures: raw.webhook_pause_after_failures.max(1),
            webhook_pause_after: parse_duration("webhook_pause_after", &raw.webhook_pause_after)?,
            batch_concurrency: within("batch_concurrency", raw.batch_concurrency, 1..=64)?,
            batch_wait: parse_duration("batch_wait", &raw.batch_wait)?,
            retention: retention(&raw)?,
            retention_interval: parse_duration("retention_interval", &raw.retention_interval)?,
            smtp_url,
            email_from,
            smtp_allow_plaintext: raw.smtp_allow_plaintext,
            notify_poll_interval: parse_duration(
                "notify_poll_interval",
                &raw.notify_poll_interval,
            )?,
            slack: notify::slack(&raw)?,
            crm: crm::settings(&raw)?,
            model: model(&raw)?,
        })
    }
}
