//! `POST /v1/leads`: ingest one routed MQL.

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};

use super::headers::{created, with_etag};
use crate::{
    domain::{
        lead_input::{LeadInput, NewLead},
        Role,
    },
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{Principal, RawJsonBody},
        inbound_signature, AppState,
    },
    service::Ingested,
    views::lead::Lead,
};

/// Ingest a routed MQL.
///
/// 201 for a new lead or a new cycle of a rejected/recycled one (with `Location`); 200 with the
/// lead unchanged when it is already open (routed) or accepted.
#[utoipa::path(post, path = "/v1/leads", tag = "leads", request_body = LeadInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "replay protection (24 h)")),
    responses(
        (status = 201, description = "new lead or new cycle", body = Lead),
        (status = 200, description = "already open or accepted: unchanged", body = Lead),
        (status = 401, description = "no or bad API key; or the source is signed and Salgate-Signature is missing, malformed, wrong, stale or replayed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    RawJsonBody(body, raw): RawJsonBody,
) -> ApiResult<Response> {
    principal.require(&[Role::Ingest, Role::Admin])?;
    let now = state.clock.now();
    let lead = NewLead::parse(&body, state.routed_at_window(now)).map_err(ApiError::Validation)?;
    if let Some(secret) = state.inbound_secrets.get(&lead.source) {
        inbound_signature::check(&state, &lead.source, secret, &headers, &raw, now).await?;
    }
    let caller = principal.caller();
    Ok(
        match state.service.ingest(lead, &caller.who(), now).await? {
            Ingested::Created(lead) => {
                let result = if lead.cycle == 1 { "new" } else { "new_cycle" };
                metrics::counter!("salgate_leads_routed_total", "result" => result).increment(1);
                created(lead)
            }
            Ingested::Unchanged(lead) => with_etag(StatusCode::OK, lead),
        },
    )
}
