//! Queues (strategy, calendar) and reps (capacity, away until, active, queues): who leads
//! can be routed to. Each write drops what the routing caches of this replica remember.

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    db::{
        self,
        routing::{self, Queue, Rep, RepWrite},
        sla,
    },
    domain::{
        body::{Check, Field},
        claim_order::ClaimOrder,
        routing::Strategy,
        slug::{opt_id_list_schema, opt_key_schema},
        validation::{check_slug, FieldError, SlugKind},
    },
    service::{Error, Result, Service},
};

use super::notify::{self, NotificationsInput};

// Read as `domain::body` describes, as is the rep body.
/// Body of `PUT /v1/queues/{id}`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct QueueInput {
    #[schema(value_type = Option<String>)]
    pub name: Field,
    /// `round_robin`, `least_loaded` or `claim`.
    #[schema(value_type = String, pattern = r"^\s*(round_robin|least_loaded|claim)\s*$")]
    pub strategy: Field,
    /// Calendar id used when the lead's SLA policy has none.
    #[schema(value_type = Option<String>, schema_with = opt_key_schema)]
    pub calendar: Field,
    /// Send a lead whose account has an owner to that owner (default false; absent keeps it).
    #[schema(value_type = Option<bool>)]
    pub sticky_account: Field,
    /// How claims order the unassigned leads: `due` (the earliest due first, the default) or
    /// `likely_accepted` (the highest predicted acceptance first); absent keeps it.
    #[schema(value_type = Option<String>, pattern = r"^\s*(due|likely_accepted)\s*$")]
    pub claim_order: Field,
    /// Slack channel id for unassigned leads and breaches; absent keeps it, `""` clears it.
    #[schema(value_type = Option<String>)]
    pub slack_channel: Field,
    /// Email addresses for unassigned leads and breaches; absent keeps them, `[]` clears.
    #[schema(value_type = Option<Vec<String>>)]
    pub notify_emails: Field,
    /// Which notifications the queue's leads send; each kind left out keeps its setting.
    #[schema(value_type = Option<NotificationsInput>)]
    pub notifications: Field,
}

/// Body of `PUT /v1/reps/{id}`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct RepInput {
    #[schema(value_type = Option<String>)]
    pub name: Field,
    #[schema(value_type = Option<String>)]
    pub email: Field,
    /// Slack user id (`U…`) for the rep's notifications; absent keeps it, `""` clears it.
    #[schema(value_type = Option<String>)]
    pub slack_user_id: Field,
    /// The rep's HubSpot owner id (docs/crm.md); absent keeps it, `""` clears it.
    #[schema(value_type = Option<String>)]
    pub hubspot_owner_id: Field,
    /// The rep's Salesforce user id (`005…`, the Lead's `OwnerId`); absent keeps it, `""`
    /// clears it.
    #[schema(value_type = Option<String>)]
    pub salesforce_owner_id: Field,
    /// Queue ids (replaces the rep's memberships).
    #[schema(value_type = Option<Vec<String>>, schema_with = opt_id_list_schema)]
    pub queues: Field,
    /// Default true.
    #[schema(value_type = Option<bool>)]
    pub active: Field,
    /// Maximum open leads; null = no cap.
    #[schema(value_type = Option<i32>)]
    pub capacity: Field,
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub away_until: Field,
}

/// A queue or rep id in the path.
pub fn check_id(id: &str) -> Result<()> {
    check_slug("id", id, SlugKind::Id).map_err(|e| Error::Validation(vec![e]))
}

impl Service {
    /// Every queue with its members.
    pub async fn queues(&self) -> Result<Vec<Queue>> {
        Ok(routing::queues(&self.db).await?)
    }

    /// Every rep.
    pub async fn reps(&self) -> Result<Vec<Rep>> {
        Ok(routing::reps(&self.db).await?)
    }

    /// Creates or replaces queue `id` from a [`QueueInput`] body.
    pub async fn put_queue(&self, id: &str, body: &Value) -> Result<Queue> {
        check_id(id)?;
        let (
            QueueInput {
                name,
                strategy,
                calendar,
                sticky_account,
                claim_order,
                slack_channel,
                notify_emails,
                notifications,
            },
            mut f,
        ) = Check::read(body).map_err(Error::Validation)?;
        let stored = routing::queue(&self.db, id).await?;
        let notify = notify::queue_notify(
            &mut f,
            slack_channel,
            notify_emails,
            notifications,
            stored.as_ref(),
        );
        let name = f
            .opt_str("name", name, 200)
            .unwrap_or_else(|| id.to_string());
        let strategy = f.req_str("strategy", strategy, 20).and_then(|s| {
            let strategy = Strategy::parse(&s);
            if strategy.is_none() {
                f.error("strategy", "must be round_robin, least_loaded or claim");
            }
            strategy
        });
        let sticky_account = f
            .opt_bool("sticky_account", sticky_account)
            .or(stored.as_ref().map(|q| q.sticky_account))
            .unwrap_or(false);
        let claim_order = f.opt_str("claim_order", claim_order, 20).and_then(|s| {
            let order = ClaimOrder::parse(&s);
            if order.is_none() {
                f.error("claim_order", "must be due or likely_accepted");
            }
            order
        });
        let claim_order = claim_order
            .or(stored.as_ref().map(|q| q.claim_order))
            .unwrap_or_default();
        let calendar = f.opt_slug("calendar", calendar, SlugKind::Key);
        if let Some(c) = &calendar {
            if !sla::calendars(&self.db)
                .await?
                .iter()
                .any(|row| &row.id == c)
            {
                f.error("calendar", format!("no calendar `{c}`"));
            }
        }
        let strategy = f.done(strategy).map_err(Error::Validation)?;
        let now = self.clock.now();
        let set = routing::QueueSettings {
            name: &name,
            calendar: calendar.as_deref(),
            strategy,
            sticky_account,
            claim_order,
        };
        let queue = routing::upsert_queue(&self.db, id, &set, &notify, now).await?;
        // A queue's calendar feeds deadlines; its strategy, round-robin ingest.
        self.policies.invalidate();
        self.queues.clear();
        Ok(queue)
    }

    /// Creates or replaces rep `id` and its queue memberships from a [`RepInput`] body.
    pub async fn put_rep(&self, id: &str, body: &Value) -> Result<Rep> {
        check_id(id)?;
        let (input, mut f) = Check::read::<RepInput>(body).map_err(Error::Validation)?;
        let RepInput {
            name,
            email,
            slack_user_id,
            hubspot_owner_id,
            salesforce_owner_id,
            queues,
            active,
            capacity,
            away_until,
        } = input;
        let stored = routing::rep(&self.db, id).await?;
        let slack_user_id = notify::rep_slack_user_id(&mut f, slack_user_id, stored.as_ref());
        let (hubspot_owner_id, salesforce_owner_id) = crate::service::crm::rep_owner_ids(
            &mut f,
            hubspot_owner_id,
            salesforce_owner_id,
            stored.as_ref(),
        );
        let name = f
            .opt_str("name", name, 200)
            .unwrap_or_else(|| id.to_string());
        let email = f.opt_str("email", email, 320);
        let active = f.opt_bool("active", active).unwrap_or(true);
        let capacity = rep_capacity(&mut f, capacity);
        let away_until = rep_away_until(&mut f, away_until);
        let queues = self.rep_queues(&mut f, queues).await?;
        f.done(Some(())).map_err(Error::Validation)?;
        let write = RepWrite {
            id,
            name: &name,
            email: email.as_deref(),
            slack_user_id: slack_user_id.as_deref(),
            hubspot_owner_id: hubspot_owner_id.as_deref(),
            salesforce_owner_id: salesforce_owner_id.as_deref(),
            queues: &queues,
            active,
            capacity,
            away_until,
        };
        let stored = routing::upsert_rep(&self.db, &write, self.clock.now()).await;
        self.reps.forget(id);
        self.queues.clear();
        stored.map_err(rep_write_error)
    }

    /// The `queues` of a rep body: known queue ids, sorted, each once.
    async fn rep_queues(&self, f: &mut Check, v: Field) -> Result<Vec<String>> {
        let mut queues: Vec<String> = Vec::new();
        match v.get() {
            None => {}
            Some(Value::Array(list)) => {
                let known: Vec<String> = routing::queues(&self.db)
                    .await?
                    .into_iter()
                    .map(|q| q.id)
                    .collect();
                for (i, q) in list.iter().enumerate() {
                    match q.as_str() {
                        Some(q) if known.iter().any(|k| k == q) => queues.push(q.to_string()),
                        Some(q) => f.error("queues", format!("queues[{i}]: no queue `{q}`")),
                        None => f.error("queues", format!("queues[{i}] must be a queue id")),
                    }
                }
                queues.sort();
                queues.dedup();
            }
            Some(_) => f.error("queues", "must be a list of queue ids"),
        }
        Ok(queues)
    }
}

/// `capacity`: a whole number of leads up to `i32::MAX`; null or absent for no cap.
fn rep_capacity(f: &mut Check, capacity: Field) -> Option<i32> {
    match capacity.get() {
        None => None,
        Some(Value::Number(n)) if n.as_u64().is_some_and(|c| c <= i32::MAX as u64) => {
            n.as_u64().map(|c| c as i32)
        }
        Some(_) => {
            f.error(
                "capacity",
                "must be a whole number of leads, or null for no cap",
            );
            None
        }
    }
}

/// `away_until`: an RFC 3339 time, or null or absent.
fn rep_away_until(f: &mut Check, away_until: Field) -> Option<DateTime<Utc>> {
    match away_until.get() {
        None => None,
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.error("away_until", "must be an RFC 3339 time");
                None
            }
        },
        Some(_) => {
            f.error("away_until", "must be an RFC 3339 time string or null");
            None
        }
    }
}

fn rep_write_error(e: sqlx::Error) -> Error {
    // A queue that vanished between the check and the write.
    if db::is_constraint(&e, "queue_members_queue_id_fkey") {
        return Error::Validation(vec![FieldError {
            field: "queues".into(),
            message: "names a queue that does not exist".into(),
        }]);
    }
    if let Some(field) = crate::service::crm::owner_id_taken(&e) {
        return Error::Validation(vec![FieldError {
            field: field.into(),
            message: "is another rep's owner id already".into(),
        }]);
    }
    e.into()
}
