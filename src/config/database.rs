//! The database settings: the primary's URL (one host or several, see `db::failover`) and the
//! optional read replica with its lag limit.

use std::time::Duration;

use super::{invalid, non_empty, parse_duration, ConfigError, Raw};

/// `DATABASE_READ_URL` and what goes with it.
#[derive(Debug, Clone)]
pub struct ReadReplicaSettings {
    pub url: String,
    /// A replica further behind than this (or down) is not read: the primary is.
    pub max_lag: Duration,
    /// How often its lag is measured.
    pub lag_interval: Duration,
}

/// A PostgreSQL URL (a host list allowed), checked as the pool will split it.
pub(super) fn url(key: &str, value: &Option<String>) -> Result<Option<String>, ConfigError> {
    let url = non_empty(value.clone());
    if let Some(url) = &url {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(key, "must start with postgres:// or postgresql://"));
        }
        crate::db::failover::Target::parse(url).map_err(|why| invalid(key, why))?;
    }
    Ok(url)
}

pub(super) fn read_replica(raw: &Raw) -> Result<Option<ReadReplicaSettings>, ConfigError> {
    let max_lag = parse_duration("read_max_lag", &raw.read_max_lag)?;
    let lag_interval = parse_duration("read_lag_interval", &raw.read_lag_interval)?;
    let Some(url) = url("database_read_url", &raw.database_read_url)? else {
        return Ok(None);
    };
    if non_empty(raw.database_url.clone()).is_none() {
        return Err(invalid(
            "database_read_url",
            "needs DATABASE_URL: the embedded cluster has no replica",
        ));
    }
    Ok(Some(ReadReplicaSettings {
        url,
        max_lag,
        lag_interval,
    }))
}
