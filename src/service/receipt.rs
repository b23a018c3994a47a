//! A lead from a CRM adapter's delivery (docs/api.md §7): ingested as if posted to
//! `POST /v1/leads`, once per delivery key however often the CRM redelivers it.

use chrono::{DateTime, Utc};

use super::{Caller, Ingested, Result, Service};
use crate::{
    db::integrations,
    domain::{lead_input::NewLead, Actor, Role},
};

/// What a delivered lead did.
// Returned once per lead and moved on at once: boxing the lead would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Received {
    /// The delivery was processed before: nothing was done.
    Duplicate,
    Ingested(Ingested),
}

impl Service {
    /// Ingests `lead`, delivered by `provider` under `key`, as the ingest caller
    /// `integration:<provider>`, unless that key was processed before.
    pub async fn ingest_delivery(
        &self,
        provider: &str,
        key: &str,
        lead: NewLead,
        now: DateTime<Utc>,
    ) -> Result<Received> {
        if integrations::seen(&self.db, provider, key).await? {
            return Ok(Received::Duplicate);
        }
        let caller = Caller {
            actor: Actor {
                role: Role::Ingest,
                rep: None,
            },
            label: format!("integration:{provider}"),
        };
        let ingested = self.ingest(lead, &caller.who(), now).await?;
        // After the lead is stored: a crash in between means the redelivery is ingested
        // again, which leaves an open lead unchanged.
        integrations::remember(&self.db, provider, key, Some(ingested.lead().id), now).await?;
        Ok(Received::Ingested(ingested))
    }
}
