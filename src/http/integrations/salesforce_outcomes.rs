//! Salesforce notifications that report an outcome rather than an MQL: a Lead whose `Status`
//! (or `IsConverted`) maps to an outcome kind (`service::outcomes::salesforce_outcome`) is
//! stored as that outcome of the lead salgate knows by its `Id`, and is not routed. One whose
//! lead salgate does not know is acknowledged and dropped: a converted lead is not an MQL.

use super::salesforce::OutboundMessage;
use crate::{
    domain::lead_input::NewLead,
    http::AppState,
    service::{self, outcomes::salesforce_outcome},
};

/// Stores the outcomes among `leads` (one per notification of `msg`, in order) and returns
/// the others, to be ingested.
pub async fn split(
    state: &AppState,
    msg: &OutboundMessage,
    leads: Vec<(String, NewLead)>,
) -> Result<Vec<(String, NewLead)>, service::Error> {
    let mut rest = Vec::with_capacity(leads.len());
    for (n, lead) in msg.notifications.iter().zip(leads) {
        let field = |k: &str| n.fields.get(k).map(String::as_str);
        let (Some(kind), Some(id)) = (
            salesforce_outcome(field("Status"), field("IsConverted")),
            field("Id"),
        ) else {
            rest.push(lead);
            continue;
        };
        let at = field("LastModifiedDate")
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc());
        state
            .service
            .record_crm_outcome("salesforce", id, kind, at)
            .await?;
    }
    Ok(rest)
}
