//! Native CRM adapters (docs/api.md §7), authenticated by the CRM's own signature or organization
//! rather than an API key: `POST /v1/integrations/hubspot` and `/salesforce`.

pub mod crm_decisions;
pub mod hubspot;
pub mod salesforce;
pub mod salesforce_gate;
mod salesforce_outcomes;
pub mod slack;
mod slack_actions;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;

/// What the adapters need from the configuration.
#[derive(Debug, Clone, Default)]
pub struct IntegrationSettings {
    /// `SALGATE_PUBLIC_URL`: the base of the URI HubSpot signs.
    pub public_url: Option<String>,
    /// `SALGATE_HUBSPOT_CLIENT_SECRET`; the endpoint answers 404 without it.
    pub hubspot_client_secret: Option<String>,
    /// `SALGATE_SALESFORCE_ORG_ID` in its 18-character form; messages from another
    /// organization get 403.
    pub salesforce_org_id: Option<String>,
    /// `SALGATE_SALESFORCE_TOKEN`: the `?token=` of the Outbound Message URL.
    pub salesforce_token: Option<String>,
    /// `SALGATE_SALESFORCE_ALLOWED_NETWORKS`: peers Salesforce may send from (empty: any).
    pub salesforce_allowed_networks: Vec<crate::domain::network::Network>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(hubspot::receive_hubspot_events))
        .routes(routes!(salesforce::receive_salesforce_message))
        .routes(routes!(slack::receive_slack_interaction))
}
