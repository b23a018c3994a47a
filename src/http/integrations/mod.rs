//! Native CRM adapters (docs/api.md §7), authenticated by the CRM's own signature or organization
//! rather than an API key: `POST /v1/integrations/hubspot` and `/salesforce`.

pub mod hubspot;
pub mod salesforce;
pub mod salesforce_gate;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    error::{ApiError, ApiResult},
    leads::{ingest, Ingested},
    AppState,
};
use crate::{
    db::leads::Who,
    domain::{lead_input::NewLead, Role},
};

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
}

/// Whether `(provider, key)` was processed before.
async fn seen(db: &PgPool, provider: &str, key: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM integration_receipts WHERE provider = $1 AND key = $2)",
    )
    .bind(provider)
    .bind(key)
    .fetch_one(db)
    .await
}

/// Remembers `(provider, key)` as processed (after its lead is stored: a crash in between
/// means the redelivery is ingested again, which leaves an open lead unchanged).
async fn remember(
    db: &PgPool,
    provider: &str,
    key: &str,
    lead: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO integration_receipts (provider, key, lead_id, received_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(provider)
    .bind(key)
    .bind(lead)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Ingests a lead built from a CRM message as if posted to `POST /v1/leads` by `actor`.
async fn ingest_from(
    state: &AppState,
    actor: &str,
    input: Value,
    now: DateTime<Utc>,
) -> ApiResult<Ingested> {
    let lead = NewLead::parse(&input, state.routed_at_window(now)).map_err(ApiError::Validation)?;
    let who = Who {
        actor,
        role: Role::Ingest,
    };
    ingest(state, lead, &who, now).await
}
