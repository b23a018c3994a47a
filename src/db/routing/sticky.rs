//! Sticky account routing: a lead of an account that has an owner goes to that owner. The
//! account's row is locked first, so concurrent ingests of one account's leads take turns and
//! the second sees the owner the first chose (one owner wins).

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use crate::domain::routing::Candidate;

/// `FOR NO KEY UPDATE`: excludes the other sticky ingests of this account, not the key-share
/// locks nothing here takes anyway.
const LOCK_ACCOUNT: &str = "SELECT owner FROM accounts WHERE id = $1 FOR NO KEY UPDATE";

/// The owners of the account's open or accepted leads, the newest lead's first. A statement of
/// its own, after the lock: its snapshot then holds every lead committed by an earlier lock
/// holder.
const LEAD_OWNERS: &str = "SELECT owner FROM leads WHERE account_id = $1 \
         AND state IN ('routed', 'accepted') AND owner IS NOT NULL \
         GROUP BY owner ORDER BY max(created_at) DESC LIMIT 10";

const REP: &str = "SELECT id, active, away_until FROM reps WHERE id = $1";

#[derive(FromRow)]
struct Rep {
    id: String,
    active: bool,
    away_until: Option<DateTime<Utc>>,
}

/// Locks `account` in `tx` and returns its owner when that rep can take a lead now: the owner
/// RevOps set (or accepting the account set), else the owner of its newest open or accepted
/// lead who is available. `None` when it has neither or they are inactive or away: the queue's strategy
/// decides then, still under the lock. Capacity is not counted: an account stays with its rep.
pub async fn account_owner(
    tx: &mut sqlx::PgConnection,
    account: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<String>, sqlx::Error> {
    let set: Option<Option<String>> = sqlx::query_scalar(LOCK_ACCOUNT)
        .bind(account)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(set) = set else {
        return Ok(None);
    };
    if let Some(owner) = set {
        if available(tx, &owner, now).await? {
            return Ok(Some(owner));
        }
    }
    let owners: Vec<String> = sqlx::query_scalar(LEAD_OWNERS)
        .bind(account)
        .fetch_all(&mut *tx)
        .await?;
    for owner in owners {
        if available(tx, &owner, now).await? {
            return Ok(Some(owner));
        }
    }
    Ok(None)
}

/// Active and not away (the routing rule's eligibility without its capacity part).
async fn available(
    tx: &mut sqlx::PgConnection,
    rep: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let row: Option<Rep> = sqlx::query_as(REP)
        .bind(rep)
        .fetch_optional(&mut *tx)
        .await?;
    // No capacity: it is not counted for an account's owner.
    Ok(row.is_some_and(|r| {
        Candidate {
            id: r.id,
            active: r.active,
            away_until: r.away_until,
            capacity: None,
            open: 0,
        }
        .eligible(now)
    }))
}

statements!(LOCK_ACCOUNT, LEAD_OWNERS, REP);
