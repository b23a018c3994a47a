//! SLA policies (per lead type) and calendars (weekly windows, holidays, time zone). Each
//! write drops this replica's policy cache; deadlines already stored do not move.

use serde_json::Value;

use crate::{
    db::sla::{self, CalendarRow, PolicyRow},
    domain::{
        sla_input::{parse_calendar, parse_policy},
        validation::{check_slug, FieldError, SlugKind},
    },
    service::{Error, Result, Service},
};

impl Service {
    /// Every SLA policy.
    pub async fn sla_policies(&self) -> Result<Vec<PolicyRow>> {
        Ok(sla::policies(&self.db).await?)
    }

    /// Every calendar.
    pub async fn calendars(&self) -> Result<Vec<CalendarRow>> {
        Ok(sla::calendars(&self.db).await?)
    }

    /// Creates or replaces the policy of `lead_type` from a `PolicyBody`.
    pub async fn put_sla_policy(&self, lead_type: &str, body: &Value) -> Result<PolicyRow> {
        let mut errors: Vec<FieldError> = check_slug("lead_type", lead_type, SlugKind::Key)
            .err()
            .into_iter()
            .collect();
        let input = match parse_policy(body) {
            Ok(p) if errors.is_empty() => p,
            Ok(_) => return Err(Error::Validation(errors)),
            Err(more) => {
                errors.extend(more);
                return Err(Error::Validation(errors));
            }
        };
        if let Some(id) = &input.calendar {
            let exists = sla::calendars(&self.db).await?.iter().any(|c| &c.id == id);
            if !exists {
                return Err(Error::field(
                    "calendar",
                    format!("no calendar `{id}`; create it with PUT /v1/calendars/{id}"),
                ));
            }
        }
        let row = PolicyRow {
            lead_type: lead_type.to_string(),
            accept_within: input.accept_within_text(),
            accept_within_s: input.accept_within.num_seconds(),
            first_touch_within: input.first_touch_within_text(),
            first_touch_within_s: input.first_touch_within.num_seconds(),
            at_risk_ratio: input.at_risk_ratio,
            on_breach: serde_json::to_value(input.on_breach)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "notify".into()),
            calendar_id: input.calendar,
            updated_at: self.clock.now(),
        };
        let stored = sla::upsert_policy(&self.db, &row).await?;
        self.policies.invalidate();
        Ok(stored)
    }

    /// Creates or replaces calendar `id` from a `CalendarBody`.
    pub async fn put_calendar(&self, id: &str, body: &Value) -> Result<CalendarRow> {
        check_slug("id", id, SlugKind::Key).map_err(|e| Error::Validation(vec![e]))?;
        let input = parse_calendar(id, body).map_err(Error::Validation)?;
        let now = self.clock.now();
        let row = CalendarRow {
            id: id.to_string(),
            name: input.name,
            time_zone: input.time_zone,
            windows: input.windows,
            holidays: input.holidays,
            created_at: now,
            updated_at: now,
        };
        let stored = sla::upsert_calendar(&self.db, &row).await?;
        self.policies.invalidate();
        Ok(stored)
    }
}
