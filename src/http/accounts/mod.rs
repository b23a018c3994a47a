//! `/v1/accounts`: the accounts leads are matched to, their owner, account-level acceptance
//! and merges. One operation per file; each handler checks the role, reads its input, calls
//! one `service::accounts` use case and renders the account.

mod accept;
mod get;
mod list;
mod merge;
mod patch;

use axum::Json;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use list::AccountPage;

use super::{error::ApiError, AppState};
use crate::{domain::Role, views::account::AccountDetail};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list::list_accounts))
        .routes(routes!(get::get_account, patch::patch_account))
        .routes(routes!(
            accept::accept_account,
            accept::end_account_acceptance
        ))
        .routes(routes!(merge::merge_account))
}

const READERS: &[Role] = &[Role::Sdr, Role::Revops, Role::Admin];
const REVOPS: &[Role] = &[Role::Revops, Role::Admin];

/// An account id from the path; a malformed one names no account (404).
fn account_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no account with this id"))
}

type Detail = Json<AccountDetail>;
