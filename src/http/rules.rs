//! `/v1/rules`: ingest rules (revops, admin) and their backtest.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    domain::{rules::RuleBody, Role},
    service::rules::{crud::parse_rule_id, Backtest, BacktestBody, RuleList, RuleView},
};

const REVOPS: &[Role] = &[Role::Revops, Role::Admin];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(backtest_rule))
        .routes(routes!(get_rule, put_rule, delete_rule))
}

/// `rule` with its version as the `ETag`.
fn with_etag(status: StatusCode, rule: RuleView) -> Response {
    let mut res = (status, Json(&rule)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", rule.version)) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// `If-Match` as sent; `*` is no expectation.
fn if_match(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::IF_MATCH)?.to_str().unwrap_or("").trim();
    (v != "*").then(|| v.to_string())
}

/// Every rule, in evaluation order (position, then creation).
#[utoipa::path(get, path = "/v1/rules", tag = "rules",
    responses((status = 200, body = RuleList), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_rules(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<RuleList>> {
    principal.require(REVOPS)?;
    Ok(Json(state.service.rules().await?))
}

/// Create a rule. It starts in `dry_run` (a body saying `live` is refused): it records what
/// it would have done and changes nothing, until a `PUT` switches it live.
#[utoipa::path(post, path = "/v1/rules", tag = "rules", request_body = RuleBody,
    responses((status = 201, body = RuleView), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_rule(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(REVOPS)?;
    let rule = state.service.create_rule(&body, &principal.label()).await?;
    let location = format!("/v1/rules/{}", rule.id);
    let mut res = with_etag(StatusCode::CREATED, rule);
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// One rule, with how many cycles it matched in dry run and the latest of them.
#[utoipa::path(get, path = "/v1/rules/{id}", tag = "rules", params(("id" = String, Path)),
    responses((status = 200, body = RuleView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_rule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    principal.require(REVOPS)?;
    let id = parse_rule_id(&id)?;
    Ok(with_etag(StatusCode::OK, state.service.rule(id).await?))
}

/// Replace a rule. `mode` absent is `dry_run`: a rule is live only while its latest `PUT`
/// says `live`. With `If-Match` (its version) a concurrent change gives 412; without, the
/// last writer wins.
#[utoipa::path(put, path = "/v1/rules/{id}", tag = "rules", request_body = RuleBody,
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "expected version (ETag)")),
    responses(
        (status = 200, body = RuleView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn put_rule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    principal.require(REVOPS)?;
    let id = parse_rule_id(&id)?;
    let rule = state
        .service
        .replace_rule(id, &body, if_match(&headers).as_deref(), &principal.label())
        .await?;
    Ok(with_etag(StatusCode::OK, rule))
}

/// Delete a rule. Its history and dry-run records stay.
#[utoipa::path(delete, path = "/v1/rules/{id}", tag = "rules",
    params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "expected version (ETag)")),
    responses(
        (status = 204),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn delete_rule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    principal.require(REVOPS)?;
    let id = parse_rule_id(&id)?;
    state
        .service
        .delete_rule(id, if_match(&headers).as_deref(), &principal.label())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a rule would have matched among the cycles routed in [`from`, `to`), what people
/// actually decided about them, and the acceptance rate of the rest against that of all.
#[utoipa::path(post, path = "/v1/rules/backtest", tag = "rules", request_body = BacktestBody,
    responses((status = 200, body = Backtest), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn backtest_rule(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Backtest>> {
    principal.require(REVOPS)?;
    Ok(Json(state.service.backtest(&body).await?))
}
