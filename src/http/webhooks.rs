//! `/v1/webhook-subscriptions` and `/v1/deliveries` (admin, revops): where lead events go, and
//! what became of each delivery.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    error::{ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::webhooks::{Delivery, Subscription},
    domain::Role,
    service::settings::webhooks::{
        self as settings, NewSubscription, NO_DELIVERY, NO_SUBSCRIPTION,
    },
};

const MANAGERS: &[Role] = &[Role::Admin, Role::Revops];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            create_webhook_subscription,
            list_webhook_subscriptions
        ))
        .routes(routes!(
            get_webhook_subscription,
            delete_webhook_subscription
        ))
        .routes(routes!(list_webhook_deliveries))
        .routes(routes!(resume_webhook_subscription))
        .routes(routes!(redeliver_delivery))
}

/// A created subscription with its signing secret: the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// HMAC-SHA256 key of `Salgate-Signature`.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<Subscription>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<Delivery>,
}

/// Subscribe a URL to lead events. Deliveries are signed with the secret in this response.
#[utoipa::path(post, path = "/v1/webhook-subscriptions", tag = "webhooks", request_body = NewSubscription,
    responses((status = 201, body = CreatedSubscription), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn create_webhook_subscription(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<CreatedSubscription>)> {
    principal.require(MANAGERS)?;
    let (subscription, secret) = state
        .service
        .create_subscription(&state.outbound, &body)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSubscription {
            subscription,
            secret,
        }),
    ))
}

/// List subscriptions (secrets are not shown).
#[utoipa::path(get, path = "/v1/webhook-subscriptions", tag = "webhooks",
    responses((status = 200, body = SubscriptionList)), security(("bearer" = [])))]
pub async fn list_webhook_subscriptions(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<SubscriptionList>> {
    principal.require(MANAGERS)?;
    Ok(Json(SubscriptionList {
        items: state.service.subscriptions().await?,
    }))
}

fn parse_id(raw: &str, what: &'static str) -> ApiResult<Uuid> {
    Ok(settings::parse_id(raw, what)?)
}

/// One subscription.
#[utoipa::path(get, path = "/v1/webhook-subscriptions/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn get_webhook_subscription(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    principal.require(MANAGERS)?;
    let id = parse_id(&id, NO_SUBSCRIPTION)?;
    Ok(Json(state.service.subscription(id).await?))
}

/// Delete a subscription: nothing more is sent to it, pending deliveries are dropped. It never
/// waits on a delivery in flight.
#[utoipa::path(delete, path = "/v1/webhook-subscriptions/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn delete_webhook_subscription(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(MANAGERS)?;
    let id = parse_id(&id, NO_SUBSCRIPTION)?;
    state.service.delete_subscription(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resume a subscription the circuit breaker paused: its kept deliveries are sent again, in
/// order, and its failures are counted afresh. Resuming an active one only resets that count.
#[utoipa::path(post, path = "/v1/webhook-subscriptions/{id}/resume", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn resume_webhook_subscription(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Subscription>> {
    principal.require(MANAGERS)?;
    let id = parse_id(&id, NO_SUBSCRIPTION)?;
    Ok(Json(state.service.resume_subscription(id).await?))
}

/// The latest 100 deliveries of a subscription with every attempt, newest first.
#[utoipa::path(get, path = "/v1/webhook-subscriptions/{id}/deliveries", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = DeliveryList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryList>> {
    principal.require(MANAGERS)?;
    let id = parse_id(&id, NO_SUBSCRIPTION)?;
    Ok(Json(DeliveryList {
        items: state.service.deliveries(id, 100).await?,
    }))
}

/// Send a delivery again (a dead one, or one to repeat): it is queued now, with a fresh 24 h of
/// retries, still in order behind earlier pending events of its lead.
#[utoipa::path(post, path = "/v1/deliveries/{id}/redeliver", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 202), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn redeliver_delivery(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    principal.require(MANAGERS)?;
    let id = parse_id(&id, NO_DELIVERY)?;
    state.service.redeliver(id).await?;
    Ok(StatusCode::ACCEPTED)
}
