//! `/v1/webhook-subscriptions` and `/v1/deliveries` (admin, revops): where lead events go, and
//! what became of each delivery.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use rand::RngCore;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{
    error::{ApiError, ApiResult, Problem},
    extract::{JsonBody, Principal},
    AppState,
};
use crate::{
    db::webhooks::{self, Delivery, Subscription},
    domain::{
        body::{Check, Field},
        Role,
    },
};

const MANAGERS: &[Role] = &[Role::Admin, Role::Revops];

/// Event types a subscription may ask for (docs/api.md §7).
pub const EVENT_TYPES: &[&str] = &[
    "lead.routed",
    "lead.assigned",
    "lead.accepted",
    "lead.rejected",
    "lead.recycled",
    "lead.touched",
    "lead.sla_at_risk",
    "lead.sla_breached",
    "lead.first_touch_breached",
];

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

// Read as `domain::body` describes.
/// Body to create a subscription.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct NewSubscription {
    /// `https://…` endpoint receiving POSTs, on a public address (`http://` and private or
    /// loopback addresses only with `SALGATE_WEBHOOK_ALLOW_PRIVATE_NETWORKS=true`).
    #[schema(value_type = String)]
    url: Field,
    /// Event types to send (default: all).
    #[schema(value_type = Option<Vec<String>>)]
    events: Field,
    #[schema(value_type = Option<String>)]
    description: Field,
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
    let (
        NewSubscription {
            url,
            events,
            description,
        },
        mut f,
    ) = Check::read(&body).map_err(ApiError::Validation)?;
    let url = f.req_str("url", url, 2000);
    // Statically bad targets are refused here; names are checked when each request connects.
    if let Err(why) = url
        .as_deref()
        .map(|u| state.outbound.check_url(u))
        .transpose()
    {
        f.error("url", why);
    }
    let events = subscription_events(&mut f, events);
    let description = f.opt_str("description", description, 500);
    let url = f.done(url).map_err(ApiError::Validation)?;
    let secret = new_secret();
    let subscription = webhooks::create(
        &state.db,
        &url,
        &events,
        description.as_deref(),
        &secret,
        state.clock.now(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedSubscription {
            subscription,
            secret,
        }),
    ))
}

/// `events`: known event types; absent gives the empty list, which means all.
fn subscription_events(f: &mut Check, events: Field) -> Vec<String> {
    match events.get() {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(e) if EVENT_TYPES.contains(&e) => out.push(e.to_string()),
                    _ => {
                        f.error(
                            "events",
                            format!("may contain only {}", EVENT_TYPES.join(", ")),
                        );
                        break;
                    }
                }
            }
            out
        }
        Some(_) => {
            f.error("events", "must be an array of event types");
            Vec::new()
        }
    }
}

/// A fresh signing secret: 32 random bytes, hex, prefixed `whsec_`.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
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
        items: webhooks::list(&state.db).await?,
    }))
}

/// The 404 of every route under `/v1/webhook-subscriptions/{id}`.
const NO_SUBSCRIPTION: &str = "no subscription with this id";

fn parse_id(raw: &str, what: &'static str) -> ApiResult<Uuid> {
    raw.parse().map_err(|_| ApiError::NotFound(what))
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
    webhooks::get(&state.db, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound(NO_SUBSCRIPTION))
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
    if webhooks::delete(&state.db, id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(NO_SUBSCRIPTION))
    }
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
    webhooks::resume(&state.db, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound(NO_SUBSCRIPTION))
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
    if webhooks::get(&state.db, id).await?.is_none() {
        return Err(ApiError::NotFound(NO_SUBSCRIPTION));
    }
    Ok(Json(DeliveryList {
        items: webhooks::deliveries(&state.db, id, 100).await?,
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
    let id = parse_id(&id, "no delivery with this id")?;
    if webhooks::redeliver(&state.db, id, state.clock.now()).await? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::NotFound("no delivery with this id"))
    }
}
