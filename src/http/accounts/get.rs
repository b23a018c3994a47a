//! `GET /v1/accounts/{id}`.

use axum::{
    extract::{Path, State},
    Json,
};

use super::{account_id, Detail, READERS};
use crate::{
    http::{
        error::{ApiResult, Problem},
        extract::Principal,
        AppState,
    },
    views::account::AccountDetail,
};

/// Get one account with its leads, their counts by state, its owner and acceptance. The id
/// of a merged account answers 200 with the account it was merged into (its `id` is the
/// survivor's).
#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AccountDetail), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_account(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Detail> {
    principal.require(READERS)?;
    Ok(Json(state.service.account(account_id(&id)?).await?))
}
