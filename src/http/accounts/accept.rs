//! `POST /v1/accounts/{id}/accept` and `DELETE /v1/accounts/{id}/accept`: account-level
//! acceptance (sales is working the account until a date) and its early end.

use axum::{
    extract::{Path, State},
    Json,
};

use super::{account_id, Detail, READERS};
use crate::{
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{JsonBody, Principal},
        AppState,
    },
    service::{
        account_bodies::{parse_accept, AccountAcceptInput},
        accounts::AccountAcceptance,
    },
    views::account::AccountDetail,
};

/// Accept the account until `until` (the account owner's SDR key, revops, admin).
#[utoipa::path(post, path = "/v1/accounts/{id}/accept", tag = "accounts", request_body = AccountAcceptInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AccountDetail),
        (status = 403, description = "an SDR key of another rep", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the account was merged", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn accept_account(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Detail> {
    principal.require(READERS)?;
    let id = account_id(&id)?;
    let (until, owner) =
        parse_accept(&body, state.service.clock.now()).map_err(ApiError::Validation)?;
    let account = state
        .service
        .accept_account(&principal.caller(), id, AccountAcceptance { until, owner })
        .await?;
    Ok(Json(account))
}

/// End the account's acceptance now (same keys as accepting it); its owner stays.
#[utoipa::path(delete, path = "/v1/accounts/{id}/accept", tag = "accounts",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AccountDetail),
        (status = 403, description = "an SDR key of another rep", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the account was merged", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn end_account_acceptance(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Detail> {
    principal.require(READERS)?;
    let account = state
        .service
        .end_account_acceptance(&principal.caller(), account_id(&id)?)
        .await?;
    Ok(Json(account))
}
