//! `POST /v1/leads/{id}/outcomes`: what happened to a lead after the gate (a meeting, an
//! SQL, an opportunity, a win or a loss), reported by a CRM or a client.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::outcomes::Outcome,
    domain::{
        outcome::{self, OutcomeInput},
        Role,
    },
    service::outcomes::Recorded,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_lead_outcome))
}

const REPORTERS: &[Role] = &[Role::Ingest, Role::Revops, Role::Admin];

/// Report a downstream outcome for the lead's current cycle (ingest, revops, admin keys).
/// The same lead, kind and `external_id` is stored once (200 with the stored one); without an
/// `external_id`, once per cycle and kind. Each stored outcome appends an `outcome` entry to
/// the lead's history.
#[utoipa::path(post, path = "/v1/leads/{id}/outcomes", tag = "outcomes",
    request_body = OutcomeInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 201, body = Outcome, description = "stored"),
        (status = 200, body = Outcome, description = "stored before: the stored one"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_lead_outcome(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(REPORTERS)?;
    let id = id
        .parse()
        .map_err(|_| ApiError::NotFound("no lead with this id"))?;
    let input = outcome::parse(&body, state.clock.now()).map_err(ApiError::Validation)?;
    let recorded = state
        .service
        .record_outcome(&principal.caller(), id, &input)
        .await?;
    let status = match recorded {
        Recorded::Created(_) => StatusCode::CREATED,
        Recorded::Existing(_) => StatusCode::OK,
    };
    Ok((status, Json(recorded.outcome().clone())).into_response())
}
