//! `GET /v1/accounts`: the unmerged accounts, a page at a time.

use std::collections::HashMap;

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    Json,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::READERS;
use crate::{
    db::accounts::AccountFilter,
    domain::validation::{FieldError, Fields},
    http::{
        error::{ApiError, ApiResult, Problem},
        extract::Principal,
        AppState,
    },
    service::cursor,
    views::account::Account,
};

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub items: Vec<Account>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// List accounts in id order (oldest first); merged accounts are not listed.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts",
    params(
        ("q" = Option<String>, Query, description = "prefix of the name (any case) or of the domain"),
        ("owner" = Option<String>, Query, description = "rep id"),
        ("accepted" = Option<bool>, Query, description = "true: accepted now; false: not"),
        ("limit" = Option<u32>, Query, description = "1 to 500, default 100"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = AccountPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> ApiResult<Json<AccountPage>> {
    principal.require(READERS)?;
    let Query(params) = params.map_err(|e| {
        ApiError::Validation(vec![FieldError {
            field: "query".into(),
            message: e.body_text(),
        }])
    })?;
    let (filter, limit) = parse_filter(params).map_err(ApiError::Validation)?;
    let page = state.service.list_accounts(filter, limit).await?;
    Ok(Json(AccountPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// The query's filters and page size, every bad parameter reported at once.
fn parse_filter(params: HashMap<String, String>) -> Result<(AccountFilter, i64), Vec<FieldError>> {
    let value = Value::Object(
        params
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    );
    let mut f = Fields::root(&value)?;
    let mut filter = AccountFilter {
        q: f.opt_str("q", 200),
        owner: f.opt_str("owner", 100),
        ..AccountFilter::default()
    };
    filter.accepted = match f.opt_str("accepted", 10).as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(_) => {
            f.error("accepted", "must be true or false");
            None
        }
    };
    let limit = match f.opt_str("limit", 10) {
        None => 100,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => {
                f.error("limit", "must be a whole number from 1 to 500");
                100
            }
        },
    };
    if let Some(c) = f.opt_str("cursor", 100) {
        filter.after = cursor::decode(&c);
        if filter.after.is_none() {
            f.error("cursor", "is not a cursor returned by this endpoint");
        }
    }
    let errors = f.finish();
    if errors.is_empty() {
        Ok((filter, limit))
    } else {
        Err(errors)
    }
}
