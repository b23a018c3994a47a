//! Webhook subscriptions (admin, revops): create, list, disable (delete) or resume, their
//! recent deliveries, and sending one again.

use rand::RngCore;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    db::webhooks::{self, Delivery, Subscription},
    domain::body::{Check, Field},
    outbound,
    service::{Error, Result, Service},
};

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

/// The 404 of every route under `/v1/webhook-subscriptions/{id}`.
pub const NO_SUBSCRIPTION: &str = "no subscription with this id";
/// The 404 of a delivery id.
pub const NO_DELIVERY: &str = "no delivery with this id";

/// An id of a path or a form; `what` is the 404's message.
pub fn parse_id(raw: &str, what: &'static str) -> Result<Uuid> {
    raw.parse().map_err(|_| Error::NotFound(what))
}

impl Service {
    /// Subscribes a URL from a [`NewSubscription`] body; returns it with its signing secret.
    /// `outbound` says which targets are allowed at all.
    pub async fn create_subscription(
        &self,
        outbound: &outbound::Policy,
        body: &Value,
    ) -> Result<(Subscription, String)> {
        let (
            NewSubscription {
                url,
                events,
                description,
            },
            mut f,
        ) = Check::read(body).map_err(Error::Validation)?;
        let url = f.req_str("url", url, 2000);
        // Statically bad targets are refused here; names are checked when each request connects.
        if let Err(why) = url.as_deref().map(|u| outbound.check_url(u)).transpose() {
            f.error("url", why);
        }
        let events = subscription_events(&mut f, events);
        let description = f.opt_str("description", description, 500);
        let url = f.done(url).map_err(Error::Validation)?;
        let secret = new_secret();
        let now = self.clock.now();
        let sub = webhooks::create(
            &self.db,
            &url,
            &events,
            description.as_deref(),
            &secret,
            now,
        )
        .await?;
        Ok((sub, secret))
    }

    /// Every subscription (secrets are not shown).
    pub async fn subscriptions(&self) -> Result<Vec<Subscription>> {
        Ok(webhooks::list(&self.db).await?)
    }

    /// One subscription.
    pub async fn subscription(&self, id: Uuid) -> Result<Subscription> {
        webhooks::get(&self.db, id)
            .await?
            .ok_or(Error::NotFound(NO_SUBSCRIPTION))
    }

    /// Deletes a subscription: nothing more is sent to it.
    pub async fn delete_subscription(&self, id: Uuid) -> Result<()> {
        if webhooks::delete(&self.db, id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(Error::NotFound(NO_SUBSCRIPTION))
        }
    }

    /// Resumes a paused subscription (or resets an active one's failure count).
    pub async fn resume_subscription(&self, id: Uuid) -> Result<Subscription> {
        webhooks::resume(&self.db, id)
            .await?
            .ok_or(Error::NotFound(NO_SUBSCRIPTION))
    }

    /// The latest `limit` deliveries of a subscription, newest first.
    pub async fn deliveries(&self, id: Uuid, limit: i64) -> Result<Vec<Delivery>> {
        self.subscription(id).await?;
        Ok(webhooks::deliveries(&self.db, id, limit).await?)
    }

    /// Queues a delivery again, with a fresh 24 h of retries.
    pub async fn redeliver(&self, id: Uuid) -> Result<()> {
        if webhooks::redeliver(&self.db, id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(Error::NotFound(NO_DELIVERY))
        }
    }
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
