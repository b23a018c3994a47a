//! CRM write-back (docs/crm.md): the HubSpot and Salesforce API clients the CRM writer sends
//! through, under the outbound rules of `src/outbound`, and how salgate's fields map to each
//! CRM's ([`mapping`]). The writer itself is `src/jobs/crm_writer.rs`; decisions made in the
//! CRM come in through the adapters of `src/http/integrations` and `src/service/crm.rs`.

pub mod hubspot;
pub mod mapping;
pub mod salesforce;

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

pub use mapping::{CrmKind, CrmMapping};

/// How long one CRM call may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// When a 429 carries no usable `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);

/// One record's new field values.
#[derive(Debug, Clone)]
pub struct Update {
    /// The HubSpot contact id or Salesforce Lead Id.
    pub record_id: String,
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// What the CRM said about one record of a call that it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordResult {
    Written,
    /// The CRM refused this record (a field error, an unknown id): retrying cannot help.
    Refused(String),
}

/// Why a whole call did not get per-record answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// HTTP 429: try again after this long.
    RateLimited(Duration),
    /// Worth retrying later: a network failure, a 5xx, an authentication failure.
    Transient(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::RateLimited(d) => write!(f, "rate limited for {} s", d.as_secs()),
            CallError::Transient(e) => f.write_str(e),
        }
    }
}

/// A CRM the writer sends to.
pub enum CrmClient {
    Hubspot(hubspot::HubspotClient),
    Salesforce(salesforce::SalesforceClient),
}

impl CrmClient {
    pub fn kind(&self) -> CrmKind {
        match self {
            CrmClient::Hubspot(_) => CrmKind::Hubspot,
            CrmClient::Salesforce(_) => CrmKind::Salesforce,
        }
    }

    /// The most records one call takes (HubSpot's batch update: 100; Salesforce's sObject
    /// collections: 200).
    pub fn max_batch(&self) -> usize {
        match self {
            CrmClient::Hubspot(_) => hubspot::MAX_BATCH,
            CrmClient::Salesforce(_) => salesforce::MAX_BATCH,
        }
    }

    /// Writes `updates` (at most [`CrmClient::max_batch`]): one result per update, in order.
    pub async fn write(&self, updates: &[Update]) -> Result<Vec<RecordResult>, CallError> {
        match self {
            CrmClient::Hubspot(c) => c.write(updates).await,
            CrmClient::Salesforce(c) => c.write(updates).await,
        }
    }
}

/// A 429's wait: `Retry-After` in seconds (HTTP dates are not sent by either CRM).
pub fn retry_after(headers: &HeaderMap) -> Duration {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_RETRY_AFTER, |s| Duration::from_secs(s.min(3600)))
}

/// A request error without the URL (it may carry ids; the host is in the settings).
pub fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// A status worth retrying: 5xx, 408.
pub fn transient_status(s: reqwest::StatusCode) -> bool {
    s.is_server_error() || s == reqwest::StatusCode::REQUEST_TIMEOUT
}

/// `base` with `segments` appended, each percent-encoded (a record id is data, not a path).
pub fn url_with(base: &str, segments: &[&str]) -> Result<reqwest::Url, CallError> {
    let mut url = reqwest::Url::parse(base)
        .map_err(|e| CallError::Transient(format!("bad CRM base URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|_| CallError::Transient("bad CRM base URL".into()))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The write-back settings (docs/crm.md). A CRM is written to when its credentials are set.
#[derive(Debug, Clone)]
pub struct CrmSettings {
    /// `SALGATE_HUBSPOT_ACCESS_TOKEN` (a private app's token); `None`: no HubSpot write-back.
    pub hubspot_access_token: Option<String>,
    /// `SALGATE_HUBSPOT_API_URL`, without a trailing slash.
    pub hubspot_api_url: String,
    pub hubspot: CrmMapping,
    /// Client id and secret both set; `None`: no Salesforce write-back.
    pub salesforce_client: Option<salesforce::SalesforceSettings>,
    pub salesforce: CrmMapping,
    /// How often the writer looks for write-backs to send.
    pub poll_interval: Duration,
}

impl CrmSettings {
    /// The mapping of `crm`.
    pub fn mapping(&self, crm: CrmKind) -> &CrmMapping {
        match crm {
            CrmKind::Hubspot => &self.hubspot,
            CrmKind::Salesforce => &self.salesforce,
        }
    }

    /// The clients of the CRMs whose credentials are set, each with its mapping.
    pub fn targets(
        &self,
        policy: crate::outbound::Policy,
    ) -> Result<Vec<crate::jobs::crm_writer::Target>, String> {
        let mut out = Vec::new();
        if let Some(token) = &self.hubspot_access_token {
            let c = hubspot::HubspotClient::new(&self.hubspot_api_url, token, policy)?;
            out.push(crate::jobs::crm_writer::Target {
                client: CrmClient::Hubspot(c),
                mapping: self.hubspot.clone(),
            });
        }
        if let Some(s) = &self.salesforce_client {
            let c = salesforce::SalesforceClient::new(s.clone(), policy)?;
            out.push(crate::jobs::crm_writer::Target {
                client: CrmClient::Salesforce(c),
                mapping: self.salesforce.clone(),
            });
        }
        Ok(out)
    }
}
