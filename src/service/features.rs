//! The features a cycle is routed with (`domain::features`), from a new lead's inputs, or on a
//! new cycle from the inputs the re-route statement leaves (absent fields keep their stored
//! values, attributes are merged), as `db::leads::cycle` writes them.

use serde_json::{Map, Value};

use crate::{
    db::leads::LeadRow,
    domain::{
        features::{extract, LeadInputs},
        lead_input::{Company, NewLead},
    },
};

/// The encoded features of a new lead.
pub fn of_new(lead: &NewLead, keys: &[String]) -> String {
    let attributes = parse_attributes(lead.attributes.get(), keys);
    let inputs = LeadInputs {
        title: lead.title.as_deref(),
        company: lead.company.as_ref(),
        campaign: lead.campaign.as_deref(),
        channel: lead.channel.as_deref(),
        source: &lead.source,
        score: lead.score,
        lead_type: &lead.lead_type,
        attributes: attributes.as_ref(),
    };
    extract(&inputs, keys).encode()
}

/// The encoded features of `current` once re-routed with `lead` (the merge the re-route
/// statement makes: each of title, company, score, campaign and channel the new one when
/// given, else the stored one; the lead type the new one; attributes the stored ones
/// overwritten key by key).
pub fn of_reroute(current: &LeadRow, lead: &NewLead, keys: &[String]) -> String {
    let stored_company = stored_company(current.company.as_ref());
    let mut attributes = current.attributes.as_object().cloned().unwrap_or_default();
    if let Some(new) = parse_attributes(lead.attributes.get(), keys) {
        attributes.extend(new);
    }
    let inputs = LeadInputs {
        title: lead.title.as_deref().or(current.title.as_deref()),
        company: lead.company.as_ref().or(stored_company.as_ref()),
        campaign: lead.campaign.as_deref().or(current.campaign.as_deref()),
        channel: lead.channel.as_deref().or(current.channel.as_deref()),
        source: &lead.source,
        score: lead.score.or(current.score),
        lead_type: &lead.lead_type,
        attributes: Some(&attributes),
    };
    extract(&inputs, keys).encode()
}

/// The stored inputs of a lead, as the drivers report reads a cycle stored without features.
pub struct StoredInputs<'a> {
    pub title: Option<&'a str>,
    pub company: Option<&'a Value>,
    pub campaign: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub source: &'a str,
    pub score: Option<f64>,
    pub lead_type: &'a str,
    pub attributes: Option<&'a Value>,
}

/// The encoded features of stored inputs.
pub fn of_stored(s: &StoredInputs<'_>, keys: &[String]) -> String {
    let company = stored_company(s.company);
    let inputs = LeadInputs {
        title: s.title,
        company: company.as_ref(),
        campaign: s.campaign,
        channel: s.channel,
        source: s.source,
        score: s.score,
        lead_type: s.lead_type,
        attributes: s.attributes.and_then(Value::as_object),
    };
    extract(&inputs, keys).encode()
}

/// A stored `company` object (a stored value that is not one counts as none).
fn stored_company(v: Option<&Value>) -> Option<Company> {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The attributes object, read only when some key is configured (it is kept as text).
fn parse_attributes(raw: &str, keys: &[String]) -> Option<Map<String, Value>> {
    if keys.is_empty() {
        return None;
    }
    serde_json::from_str(raw).ok()
}
