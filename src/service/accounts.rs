//! The accounts use cases (docs/api.md, "Accounts"): list and read accounts, the owner RevOps
//! sets, account-level acceptance (ABM) and merges. Every change locks the account row, writes
//! an `account_events` entry in the same transaction, and answers with the account as it is
//! after the change.

use serde_json::json;
use uuid::Uuid;

use super::{cursor, Caller, Error, Result, Service};
use crate::{
    db::accounts::{self as db, AccountFilter, AccountRow},
    domain::Role,
    views::account::{Account, AccountDetail},
};

/// A page of accounts.
#[derive(Debug)]
pub struct AccountsPage {
    pub items: Vec<Account>,
    pub next_cursor: Option<String>,
}

/// A new acceptance of an account.
#[derive(Debug, Clone)]
pub struct AccountAcceptance {
    pub until: chrono::DateTime<chrono::Utc>,
    pub owner: Option<String>,
}

const NO_ACCOUNT: &str = "no account with this id";

impl Service {
    /// Up to `limit` unmerged accounts of `filter`, in id order.
    pub async fn list_accounts(&self, filter: AccountFilter, limit: i64) -> Result<AccountsPage> {
        let now = self.clock.now();
        let filter = &filter;
        let (rows, _) = self
            .read(|pool| async move { Ok(db::list(&pool, filter, limit + 1, now).await?) })
            .await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<Account> = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| Account::from_row(r, now))
            .collect();
        let next_cursor = more
            .then(|| items.last().map(|a| cursor::encode(a.id)))
            .flatten();
        Ok(AccountsPage { items, next_cursor })
    }

    /// Account `id` with its leads; a merged account's id gives the account it was merged
    /// into.
    pub async fn account(&self, id: Uuid) -> Result<AccountDetail> {
        let row = db::resolve(&self.db, id)
            .await?
            .ok_or(Error::NotFound(NO_ACCOUNT))?;
        self.detail(row).await
    }

    async fn detail(&self, row: AccountRow) -> Result<AccountDetail> {
        let (leads, counts, events) = db::contents(&self.db, row.id).await?;
        let account = Account::from_row(row, self.clock.now());
        Ok(AccountDetail::new(account, leads, counts, events))
    }

    /// Sets (or, with `None`, clears) the owner of account `id` (revops, admin).
    pub async fn set_account_owner(
        &self,
        caller: &Caller,
        id: Uuid,
        owner: Option<String>,
    ) -> Result<AccountDetail> {
        if let Some(o) = &owner {
            self.known_rep(o).await?;
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let account = lock_one(&mut tx, id).await?;
        if account.owner != owner {
            db::set_owner(&mut tx, id, owner.as_deref(), now).await?;
            let data = json!({"owner": owner, "from": account.owner});
            db::record(&mut tx, id, "owner_set", &caller.label, data, now).await?;
        }
        tx.commit().await?;
        self.account(id).await
    }

    /// Accepts account `id` until `a.until` for its owner: an SDR key only an account its rep
    /// owns, a revops or admin key any (naming the owner when the account has none).
    pub async fn accept_account(
        &self,
        caller: &Caller,
        id: Uuid,
        a: AccountAcceptance,
    ) -> Result<AccountDetail> {
        if let Some(o) = &a.owner {
            self.known_rep(o).await?;
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let account = lock_one(&mut tx, id).await?;
        let owner = acceptance_owner(caller, &account, a.owner)?;
        db::accept(&mut tx, id, &owner, a.until, &caller.label, now).await?;
        let data = json!({"until": a.until, "owner": owner, "previous_owner": account.owner});
        db::record(&mut tx, id, "accepted", &caller.label, data, now).await?;
        tx.commit().await?;
        self.account(id).await
    }

    /// Ends account `id`'s acceptance now (same callers as [`Self::accept_account`]); its
    /// owner stays. Ending one that is not running changes nothing.
    pub async fn end_account_acceptance(&self, caller: &Caller, id: Uuid) -> Result<AccountDetail> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let account = lock_one(&mut tx, id).await?;
        may_accept(caller, &account)?;
        if account.accepted_until.is_some() {
            db::end_acceptance(&mut tx, id, now).await?;
            let data = json!({"was_until": account.accepted_until});
            db::record(&mut tx, id, "acceptance_ended", &caller.label, data, now).await?;
        }
        tx.commit().await?;
        self.account(id).await
    }

    /// Merges account `id` into `into` (revops, admin). Both rows are locked in id order, so
    /// two crossing merges (A into B, B into A) run one after the other and the second finds
    /// its account merged: exactly one wins and no cycle forms.
    pub async fn merge_accounts(
        &self,
        caller: &Caller,
        id: Uuid,
        into: Uuid,
    ) -> Result<AccountDetail> {
        if id == into {
            return Err(Error::field(
                "into",
                "an account cannot be merged into itself",
            ));
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let rows = db::lock(&mut tx, &[id, into]).await?;
        let from = rows
            .iter()
            .find(|r| r.id == id)
            .ok_or(Error::NotFound(NO_ACCOUNT))?;
        let target = rows
            .iter()
            .find(|r| r.id == into)
            .ok_or_else(|| Error::field("into", "no account with this id"))?;
        for (r, what) in [(from, "this account"), (target, "the account in `into`")] {
            if let Some(survivor) = r.merged_into {
                return Err(Error::Conflict {
                    code: "account_merged",
                    detail: format!("{what} was merged into {survivor}"),
                });
            }
        }
        let moved = db::merge(&mut tx, from, into, now).await?;
        let out = json!({"into": into, "leads_moved": moved});
        db::record(&mut tx, id, "merged", &caller.label, out, now).await?;
        let inn = json!({"from": id, "leads_moved": moved});
        db::record(&mut tx, into, "absorbed", &caller.label, inn, now).await?;
        tx.commit().await?;
        self.account(into).await
    }

    async fn known_rep(&self, rep: &str) -> Result<()> {
        if db::rep_exists(&self.db, rep).await? {
            Ok(())
        } else {
            Err(Error::field("owner", format!("no rep `{rep}`")))
        }
    }
}

/// Locks account `id`, which must exist and not be merged.
async fn lock_one(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<AccountRow> {
    let row = db::lock(conn, &[id])
        .await?
        .pop()
        .ok_or(Error::NotFound(NO_ACCOUNT))?;
    match row.merged_into {
        Some(survivor) => Err(Error::Conflict {
            code: "account_merged",
            detail: format!("this account was merged into {survivor}; change that one"),
        }),
        None => Ok(row),
    }
}

/// Revops and admin keys may accept any account; an SDR key only one it owns.
fn may_accept(caller: &Caller, account: &AccountRow) -> Result<()> {
    match caller.actor.role {
        Role::Revops | Role::Admin => Ok(()),
        Role::Sdr if caller.actor.rep.is_some() && caller.actor.rep == account.owner => Ok(()),
        _ => Err(Error::Forbidden(
            "only the account's owner (an SDR key of that rep), revops or admin may accept it"
                .into(),
        )),
    }
}

/// Who the accepted account's leads go to: `given`, else its owner; an SDR only for itself.
fn acceptance_owner(
    caller: &Caller,
    account: &AccountRow,
    given: Option<String>,
) -> Result<String> {
    may_accept(caller, account)?;
    if caller.actor.role == Role::Sdr && given.is_some() && given != caller.actor.rep {
        return Err(Error::field(
            "owner",
            "an SDR key accepts only for its own rep",
        ));
    }
    given
        .or_else(|| account.owner.clone())
        .ok_or_else(|| Error::field("owner", "is required: the account has no owner"))
}
