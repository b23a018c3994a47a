//! `PATCH /v1/accounts/{id}`: the owner RevOps sets.

use axum::{
    extract::{Path, State},
    Json,
};

use super::{account_id, Detail, REVOPS};
use crate::{
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::{JsonBody, Principal},
        AppState,
    },
    service::account_bodies::{parse_patch, AccountPatch},
    views::account::AccountDetail,
};

/// Set the account's owner (revops, admin): a known rep, or `null` to clear it.
#[utoipa::path(patch, path = "/v1/accounts/{id}", tag = "accounts", request_body = AccountPatch,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AccountDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the account was merged", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn patch_account(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Detail> {
    principal.require(REVOPS)?;
    let id = account_id(&id)?;
    let owner = parse_patch(&body).map_err(ApiError::Validation)?;
    let account = state
        .service
        .set_account_owner(&principal.caller(), id, owner)
        .await?;
    Ok(Json(account))
}
