//! `POST /v1/accounts/{id}/merge`: one company found under two accounts becomes one.

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
    service::account_bodies::{parse_merge, AccountMergeInput},
    views::account::AccountDetail,
};

/// Merge this account into `into` (revops, admin): its leads move to `into`, its id answers
/// with `into` from then on. Answers with the surviving account.
#[utoipa::path(post, path = "/v1/accounts/{id}/merge", tag = "accounts", request_body = AccountMergeInput,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = AccountDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "either account was merged already", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn merge_account(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Detail> {
    principal.require(REVOPS)?;
    let id = account_id(&id)?;
    let into = parse_merge(&body).map_err(ApiError::Validation)?;
    let account = state
        .service
        .merge_accounts(&principal.caller(), id, into)
        .await?;
    Ok(Json(account))
}
