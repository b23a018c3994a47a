//! What ingest finds out about leads before it stores them (docs/api.md, "Duplicates" and
//! "Accounts"): their keys, their accounts (found or created) and their possible duplicates.
//! Rules read it (`duplicate_found`, `account_accepted`; `free_mail` is
//! `domain::account_key::free_mail`) and routing follows the
//! account's owner; the lead stores it.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

mod group;

pub use group::GroupJudge;

use super::{Result, Service};
use crate::{
    db::judge::{self, Found, Subject},
    domain::{identity::Identity, lead_input::NewLead},
};

/// Decided leads count as possible duplicates for this long after their last change; open and
/// accepted ones always do.
pub const DUPLICATE_WINDOW: Duration = Duration::days(90);

/// What the lookups found for one lead.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    pub identity: Identity,
    pub found: Found,
}

impl Judgement {
    /// Whether the lead's account is accepted (sales is working it) at `now`.
    pub fn account_accepted(&self, now: DateTime<Utc>) -> bool {
        self.found
            .account
            .as_ref()
            .and_then(|a| a.accepted_until)
            .is_some_and(|until| until > now)
    }

    /// The account's owner while the account is accepted.
    pub fn accepted_owner(&self, now: DateTime<Utc>) -> Option<&str> {
        let account = self.found.account.as_ref()?;
        self.account_accepted(now)
            .then_some(account.owner.as_deref())
            .flatten()
    }

    /// What the `routed` history entry notes of it: the possible duplicates (id and reason).
    pub fn note(&self, note: &mut Map<String, Value>) {
        if !self.found.duplicates.is_empty() {
            let found: Vec<Value> = self
                .found
                .duplicates
                .iter()
                .map(|d| serde_json::json!({"lead_id": d.lead_id, "reason": d.reason}))
                .collect();
            note.insert("possible_duplicates".into(), found.into());
        }
    }
}

impl Service {
    /// Judges each of `leads` (one statement for all of them), in order. One lead goes with
    /// the next group of concurrent one-lead judgements ([`GroupJudge`]).
    pub async fn judge(&self, leads: &[&NewLead], now: DateTime<Utc>) -> Result<Vec<Judgement>> {
        let identities: Vec<Identity> = leads.iter().map(|l| Identity::of(l)).collect();
        let subjects: Vec<Subject<'_>> = (leads.iter().zip(&identities))
            .map(|(l, identity)| Subject {
                source: &l.source,
                external_id: &l.external_id,
                identity,
            })
            .collect();
        let since = now - DUPLICATE_WINDOW;
        let found = match subjects.as_slice() {
            [one] => vec![self.group_judge.judge(*one, since, now).await?],
            _ => judge::judge(&mut *self.db.acquire().await?, &subjects, since, now).await?,
        };
        drop(subjects);
        Ok(identities
            .into_iter()
            .zip(found)
            .map(|(identity, found)| Judgement { identity, found })
            .collect())
    }
}
