//! `GET /v1/model`: the acceptance model's status and quality (docs/api.md §6).

use axum::{extract::State, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiResult, Problem},
    extract::Principal,
    AppState,
};
use crate::{domain::Role, service::model::ModelReport};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_model))
}

const READERS: &[Role] = &[Role::Revops, Role::Admin];

/// The acceptance model (revops, admin keys): whether it is ready, when and on how many
/// labelled cycles it was trained, its quality on the time-based holdout (AUC, Brier score,
/// calibration buckets) and its strongest feature values.
#[utoipa::path(get, path = "/v1/model", tag = "metrics",
    responses(
        (status = 200, body = ModelReport),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn get_model(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<ModelReport>> {
    principal.require(READERS)?;
    Ok(Json(state.service.model_report().await?))
}
