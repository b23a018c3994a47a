//! What an account looks like in a response (docs/api.md, "Accounts"), built from
//! `db::accounts` rows.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    db::accounts::{AccountEvent, AccountLead, AccountRow},
    domain::LeadState,
};

/// An account in a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Account {
    pub id: Uuid,
    /// The company's name as its first lead gave it (else its domain).
    pub name: String,
    /// The company or work-email domain it was matched by; null for a name-matched account.
    pub domain: Option<String>,
    /// The rep its leads go to (set by RevOps or by accepting the account); null for none.
    pub owner: Option<String>,
    /// Whether sales accepted the account and the acceptance runs now.
    pub accepted: bool,
    pub accepted_until: Option<DateTime<Utc>>,
    /// Who accepted it (`key:<id>`).
    pub accepted_by: Option<String>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// How many leads it has.
    pub lead_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One lead of an account.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountLeadView {
    pub id: Uuid,
    pub state: LeadState,
    pub owner: Option<String>,
    pub cycle: i32,
    pub routed_at: DateTime<Utc>,
}

/// One change of an account, oldest last.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountEventView {
    /// `owner_set`, `accepted`, `acceptance_ended`, `merged` (this account into another) or
    /// `absorbed` (another account into this one).
    pub kind: String,
    /// Who made it (`key:<id>`).
    pub actor: String,
    /// What changed: the new owner, the acceptance's end, the other account of a merge.
    #[schema(value_type = Object)]
    pub data: Value,
    pub occurred_at: DateTime<Utc>,
}

/// An account with its leads (`GET /v1/accounts/{id}` and every account change).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountDetail {
    #[serde(flatten)]
    pub account: Account,
    /// Its newest leads (at most 500).
    pub leads: Vec<AccountLeadView>,
    /// How many of its leads are in each state (all of them, every state named).
    pub lead_states: BTreeMap<String, i64>,
    /// Its newest changes (at most 50), newest first.
    pub events: Vec<AccountEventView>,
}

impl Account {
    pub fn from_row(r: AccountRow, now: DateTime<Utc>) -> Account {
        Account {
            id: r.id,
            name: r.name,
            domain: r.domain,
            owner: r.owner,
            accepted: r.accepted_until.is_some_and(|u| u > now),
            accepted_until: r.accepted_until,
            accepted_by: r.accepted_by,
            accepted_at: r.accepted_at,
            lead_count: r.lead_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl AccountDetail {
    pub fn new(
        account: Account,
        leads: Vec<AccountLead>,
        counts: Vec<(String, i64)>,
        events: Vec<AccountEvent>,
    ) -> AccountDetail {
        let mut lead_states: BTreeMap<String, i64> = LeadState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        lead_states.extend(counts);
        AccountDetail {
            account,
            leads: leads
                .into_iter()
                .filter_map(|l| {
                    Some(AccountLeadView {
                        id: l.id,
                        state: LeadState::parse(&l.state)?,
                        owner: l.owner,
                        cycle: l.cycle,
                        routed_at: l.routed_at,
                    })
                })
                .collect(),
            lead_states,
            events: events
                .into_iter()
                .map(|e| AccountEventView {
                    kind: e.kind,
                    actor: e.actor,
                    data: e.data,
                    occurred_at: e.occurred_at,
                })
                .collect(),
        }
    }
}
