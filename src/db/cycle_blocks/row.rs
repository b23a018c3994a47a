//! A cycle as the scan and the compactor read it from `lead_cycles` (`fact_select!`), and
//! what a report knows of it.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::Symbols;
use crate::domain::{
    cycle_facts::{CycleFact, Outcome, OutcomeFact},
    features::entries,
    outcome::OutcomeKind,
};

/// A cycle as `fact_select!` reads it.
#[derive(Debug, FromRow)]
pub(super) struct FactRow {
    pub(super) lead_id: uuid::Uuid,
    pub(super) routed_at: DateTime<Utc>,
    pub(super) source: String,
    pub(super) campaign: Option<String>,
    pub(super) channel: Option<String>,
    pub(super) lead_type: String,
    pub(super) queue: Option<String>,
    pub(super) owner: Option<String>,
    pub(super) outcome: Option<String>,
    pub(super) accepted_within_sla: bool,
    pub(super) breached: bool,
    pub(super) recycled: bool,
    pub(super) rerouted: bool,
    pub(super) accepted_later: bool,
    pub(super) rejection_code: Option<String>,
    pub(super) recycle_reason: Option<String>,
    pub(super) decided_at: Option<DateTime<Utc>>,
    pub(super) sla_due_at: Option<DateTime<Utc>>,
    pub(super) first_touch_due_at: Option<DateTime<Utc>>,
    pub(super) first_touched_at: Option<DateTime<Utc>>,
    pub(super) account_id: Option<String>,
    pub(super) decided_by_rule: bool,
    pub(super) features: Option<String>,
    pub(super) kinds: Option<Vec<String>>,
    pub(super) ats: Option<Vec<DateTime<Utc>>>,
    pub(super) amounts: Option<Vec<Option<f64>>>,
    pub(super) currencies: Option<Vec<Option<String>>>,
}

impl FactRow {
    /// The cycle as a report sees it; its feature entries interned only `with_features`.
    pub(super) fn into_fact(
        self,
        syms: &mut Symbols,
        with_features: bool,
    ) -> Result<CycleFact, sqlx::Error> {
        let outcome = match self.outcome.as_deref() {
            None => Outcome::Open,
            Some("accepted") => Outcome::Accepted,
            Some("rejected") => Outcome::Rejected,
            Some("recycled") => Outcome::Recycled,
            Some(other) => {
                return Err(sqlx::Error::Decode(
                    format!("unknown cycle outcome {other:?}").into(),
                ))
            }
        };
        let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros());
        let outcomes = self.outcome_facts(syms)?;
        let features = match (&self.features, with_features) {
            (Some(f), true) => entries(f).map(|e| syms.intern(Some(e))).collect(),
            _ => Vec::new(),
        };
        Ok(CycleFact {
            lead_id: Some(self.lead_id),
            routed_at: self.routed_at.timestamp_micros(),
            dims: [
                syms.intern(Some(&self.source)),
                syms.intern(self.campaign.as_deref()),
                syms.intern(self.channel.as_deref()),
                syms.intern(Some(&self.lead_type)),
                syms.intern(self.queue.as_deref()),
                syms.intern(self.owner.as_deref()),
                syms.intern(self.account_id.as_deref()),
            ],
            outcome,
            accepted_within_sla: self.accepted_within_sla,
            breached: self.breached,
            recycled: self.recycled,
            rerouted: self.rerouted,
            accepted_later: self.accepted_later,
            rejection_code: syms.intern(self.rejection_code.as_deref()),
            recycle_reason: syms.intern(self.recycle_reason.as_deref()),
            decided_by_rule: self.decided_by_rule,
            decided_at: micros(self.decided_at),
            sla_due_at: micros(self.sla_due_at),
            first_touch_due_at: micros(self.first_touch_due_at),
            first_touched_at: micros(self.first_touched_at),
            outcomes,
            featured: with_features && self.features.is_some(),
            features,
        })
    }

    fn outcome_facts(&self, syms: &mut Symbols) -> Result<Vec<OutcomeFact>, sqlx::Error> {
        let (Some(kinds), Some(ats), Some(amounts), Some(currencies)) =
            (&self.kinds, &self.ats, &self.amounts, &self.currencies)
        else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(kinds.len());
        for (((kind, at), amount), currency) in kinds.iter().zip(ats).zip(amounts).zip(currencies) {
            let kind = OutcomeKind::parse(kind)
                .ok_or_else(|| sqlx::Error::Decode(format!("unknown outcome {kind:?}").into()))?;
            let amount = match (amount, currency) {
                (Some(a), Some(c)) => Some((*a, syms.intern(Some(c)))),
                _ => None,
            };
            out.push(OutcomeFact {
                kind,
                at: at.timestamp_micros(),
                amount,
            });
        }
        Ok(out)
    }
}
