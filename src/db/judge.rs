//! What ingest looks up about leads before storing them (docs/api.md, "Duplicates" and
//! "Accounts"): each lead's account, found by its key or created, and its possible duplicates,
//! found through the key indexes (never a scan). One statement for one lead or a whole batch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::domain::{identity::Identity, LeadState};

/// At most this many possible duplicates are kept per cycle (the newest): the `LIMIT 5` of
/// `JUDGE`, a literal so that its generic plan knows it (a bound limit let the planner expect
/// a tenth of the table).
pub const MAX_DUPLICATES: i64 = 5;

/// A lead found to be possibly the same person, as it was when the new cycle was routed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Duplicate {
    pub lead_id: Uuid,
    /// Which key matched: `email`, `phone` or `person` (same name at the same account, from
    /// another source). The strongest when several did.
    pub reason: String,
    pub state: LeadState,
    pub owner: Option<String>,
}

/// A lead's account as ingest found it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRef {
    pub id: Uuid,
    /// Set by RevOps or by accepting the account; `None` for a new account.
    pub owner: Option<String>,
    pub accepted_until: Option<DateTime<Utc>>,
}

/// A lead to judge: its key (a lead is not its own duplicate) and its identity keys.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub source: &'a str,
    pub external_id: &'a str,
    pub identity: &'a Identity,
}

/// What the lookup found for one lead.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    pub account: Option<AccountRef>,
    pub duplicates: Vec<Duplicate>,
}

#[derive(FromRow)]
struct FoundRow {
    ord: i64,
    account_id: Option<Uuid>,
    owner: Option<String>,
    accepted_until: Option<DateTime<Utc>>,
    duplicates: Option<sqlx::types::Json<Vec<Duplicate>>>,
}

/// `input`: one row per lead. `created`: accounts for keys not stored yet (a key repeated in
/// the input is created once). A key a concurrent statement is creating is not visible to this
/// one: its account comes back `NULL` and the caller asks again (`judge`).
macro_rules! judge {
    ($rows:literal) => {
        concat!(
            "WITH input AS ( \
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::uuid[]) WITH ORDINALITY \
         AS t(source, external_id, email_key, phone_key, person_key, match_key, name, domain, \
           new_id, ord) ",
            $rows,
            "), \
     created AS ( \
       INSERT INTO accounts (id, match_key, name, domain, created_at, updated_at) \
       SELECT DISTINCT ON (match_key) new_id, match_key, name, domain, $10, $10 FROM input \
       WHERE match_key IS NOT NULL ORDER BY match_key, ord \
       ON CONFLICT (match_key) DO NOTHING RETURNING id, match_key) \
     SELECT i.ord, COALESCE(c.id, t.id) AS account_id, t.owner, t.accepted_until, d.duplicates \
     FROM input i \
     LEFT JOIN created c ON c.match_key = i.match_key \
     LEFT JOIN accounts a ON a.match_key = i.match_key \
     LEFT JOIN accounts t ON t.id = COALESCE(a.merged_into, a.id) \
     LEFT JOIN LATERAL ( \
       SELECT jsonb_agg(jsonb_build_object('lead_id', l.id, 'reason', m.reason, \
           'state', l.state, 'owner', l.owner) ORDER BY l.id DESC) AS duplicates \
       FROM (SELECT DISTINCT ON (id) id, reason FROM ( \
           (SELECT id, 'email' AS reason, 1 AS strength FROM leads \
             WHERE email_key = i.email_key AND NOT (source = i.source AND external_id = i.external_id) \
               AND (state IN ('routed', 'accepted') OR updated_at >= $11) \
             ORDER BY id DESC LIMIT 5) \
           UNION ALL \
           (SELECT id, 'phone', 2 FROM leads \
             WHERE phone_key = i.phone_key AND NOT (source = i.source AND external_id = i.external_id) \
               AND (state IN ('routed', 'accepted') OR updated_at >= $11) \
             ORDER BY id DESC LIMIT 5) \
           UNION ALL \
           (SELECT id, 'person', 3 FROM leads \
             WHERE person_key = i.person_key AND source <> i.source \
               AND (state IN ('routed', 'accepted') OR updated_at >= $11) \
             ORDER BY id DESC LIMIT 5)) k \
         ORDER BY id DESC, strength LIMIT 5) m \
       JOIN leads l ON l.id = m.id) d ON true \
     ORDER BY i.ord"
        )
    };
}

/// Any number of leads (a batch).
const JUDGE: &str = judge!("");

/// One lead. The same statement, telling the planner that the input is one row: without it the
/// generic plan of a statement over array parameters expects a hundred, costs more than a
/// plan for the actual row, and PostgreSQL plans the statement again on every execution.
const JUDGE_ONE: &str = judge!("LIMIT 1");

/// Finds (or creates) the account and the possible duplicates of each of `leads`. Duplicates are open or accepted leads, or leads decided since
/// `since`. Returns one `Found` per lead, in order.
pub async fn judge(
    db: &PgPool,
    leads: &[Subject<'_>],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Found>, sqlx::Error> {
    let mut found = judge_once(db, leads, since, now).await?;
    // A key another statement was creating at the same moment: asked again, it is there.
    let missing: Vec<usize> = (0..leads.len())
        .filter(|&i| leads[i].identity.account.is_some() && found[i].account.is_none())
        .collect();
    if !missing.is_empty() {
        let again: Vec<_> = missing.iter().map(|&i| leads[i]).collect();
        for (i, f) in missing
            .into_iter()
            .zip(judge_once(db, &again, since, now).await?)
        {
            found[i].account = f.account;
        }
    }
    Ok(found)
}

async fn judge_once(
    db: &PgPool,
    leads: &[Subject<'_>],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Found>, sqlx::Error> {
    let col = |f: &dyn Fn(&Subject<'_>) -> Option<String>| -> Vec<Option<String>> {
        leads.iter().map(f).collect()
    };
    let query = if leads.len() == 1 {
        sqlx::query_as(JUDGE_ONE)
    } else {
        sqlx::query_as(JUDGE)
    };
    let rows: Vec<FoundRow> = query
        .bind(col(&|l| Some(l.source.to_owned())))
        .bind(col(&|l| Some(l.external_id.to_owned())))
        .bind(col(&|l| l.identity.email_key.clone()))
        .bind(col(&|l| l.identity.phone_key.clone()))
        .bind(col(&|l| l.identity.person_key.clone()))
        .bind(col(&|l| {
            l.identity.account.as_ref().map(|a| a.match_key.clone())
        }))
        .bind(col(&|l| {
            l.identity.account.as_ref().map(|a| a.name.clone())
        }))
        .bind(col(&|l| {
            l.identity.account.as_ref().and_then(|a| a.domain.clone())
        }))
        .bind(leads.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        .bind(now)
        .bind(since)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            debug_assert!(r.ord >= 1);
            Found {
                account: r.account_id.map(|id| AccountRef {
                    id,
                    owner: r.owner,
                    accepted_until: r.accepted_until,
                }),
                duplicates: r.duplicates.map(|j| j.0).unwrap_or_default(),
            }
        })
        .collect())
}

statements!(JUDGE, JUDGE_ONE);
