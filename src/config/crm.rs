//! The CRM write-back settings (docs/crm.md), checked together: the mappings parse, the API
//! and login URLs are ones the outbound rules allow, and a Salesforce client id comes with
//! its secret.

use super::{invalid, non_empty, parse_duration, ConfigError, Raw};
use crate::crm::{salesforce::SalesforceSettings, CrmKind, CrmMapping, CrmSettings};

pub(super) fn settings(raw: &Raw) -> Result<CrmSettings, ConfigError> {
    let policy = crate::outbound::Policy {
        allow_private: raw.webhook_allow_private_networks,
    };
    let url = |key: &str, v: &str| {
        let v = v.trim().trim_end_matches('/').to_string();
        policy.check_url(&v).map_err(|why| invalid(key, why))?;
        Ok::<_, ConfigError>(v)
    };
    let mapping = |crm, (status_key, status): (&str, &str), (fields_key, fields): (&str, &str)| {
        CrmMapping::parse(crm, status, fields).map_err(|why| {
            let key = if why.contains("state") || why.contains("mapped") || why.contains("value of")
            {
                status_key
            } else {
                fields_key
            };
            invalid(key, why)
        })
    };
    let hubspot = mapping(
        CrmKind::Hubspot,
        ("hubspot_lead_status_map", &raw.hubspot_lead_status_map),
        ("hubspot_fields", &raw.hubspot_fields),
    )?;
    let salesforce = mapping(
        CrmKind::Salesforce,
        (
            "salesforce_lead_status_map",
            &raw.salesforce_lead_status_map,
        ),
        ("salesforce_fields", &raw.salesforce_fields),
    )?;
    let version = raw.salesforce_api_version.trim().trim_start_matches('v');
    let numeric = version.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && (a.to_owned() + b).chars().all(|c| c.is_ascii_digit())
    });
    if !numeric {
        return Err(invalid(
            "salesforce_api_version",
            "must be a version such as 62.0",
        ));
    }
    let id = non_empty(raw.salesforce_client_id.clone());
    let secret = non_empty(raw.salesforce_client_secret.clone());
    let salesforce_client = match (id, secret) {
        (Some(client_id), Some(client_secret)) => Some(SalesforceSettings {
            login_url: url("salesforce_login_url", &raw.salesforce_login_url)?,
            client_id,
            client_secret,
            api_version: version.to_string(),
        }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                "salesforce_client_secret",
                "is required with SALGATE_SALESFORCE_CLIENT_ID",
            ))
        }
        (None, Some(_)) => {
            return Err(invalid(
                "salesforce_client_id",
                "is required with SALGATE_SALESFORCE_CLIENT_SECRET",
            ))
        }
    };
    Ok(CrmSettings {
        hubspot_access_token: non_empty(raw.hubspot_access_token.clone()),
        hubspot_api_url: url("hubspot_api_url", &raw.hubspot_api_url)?,
        hubspot,
        salesforce_client,
        salesforce,
        poll_interval: parse_duration("crm_poll_interval", &raw.crm_poll_interval)?,
    })
}
