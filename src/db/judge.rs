//! What ingest looks up about leads before storing them (docs/api.md, "Duplicates" and
//! "Accounts"): each lead's account, found by its key or created, and its possible duplicates,
//! found through the key indexes (never a scan). One statement for one lead or a whole batch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::domain::{identity::Identity, LeadState};

/// At most this many possible duplicates are kept per cycle (the newest): the `LIMIT 5` of
/// `JUDGE`, a literal so that its generic plan knows it (a bound limit let the planner expect
/// a tenth of the table).
pub const MAX_DUPLICATES: i64 = 5;

/// Each key's lookup examines at most this many leads with the key, the newest: the `LIMIT 50`
/// of `JUDGE` (a literal, as above). The other conditions (not the lead itself, another source
/// for `person`, open or decided within the window) filter those rows, so without the bound a
/// key many leads share that the filters reject (one test address submitted thousands of
/// times, one person sent by one source again and again) made every lookup read them all.
pub const MAX_KEY_ROWS: i64 = 50;

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

/// `$1`: one JSON object per lead (see [`InputRow`]). `created`: accounts for keys not stored
/// yet (a key repeated in the input is created once). A key a concurrent statement is creating
/// is not visible to this one: its account comes back `NULL` and the caller asks again
/// (`judge`).
///
/// The rows come as one `jsonb` and not as arrays on purpose. The planner estimates
/// `jsonb_to_recordset` at 100 rows whatever the parameter holds, so each execution's own plan
/// costs what the cached generic plan costs, and PostgreSQL keeps the generic plan. Over
/// arrays, a one-off plan sees the actual length (a group of ~6), costs less than the generic
/// plan's guess of 10, and PostgreSQL planned the statement again on 94 % of grouped
/// executions, at 0.9 ms a plan: more than the statement's run (bench/README.md).
const JUDGE: &str = "WITH input AS ( \
       SELECT * FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (source text, external_id text, \
         email_key text, phone_key text, person_key text, match_key text, name text, \
         domain text, new_id uuid)) WITH ORDINALITY \
         AS t(source, external_id, email_key, phone_key, person_key, match_key, name, domain, \
           new_id, ord)), \
     created AS ( \
       INSERT INTO accounts (id, match_key, name, domain, created_at, updated_at) \
       SELECT DISTINCT ON (match_key) new_id, match_key, name, domain, $2, $2 FROM input \
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
           (SELECT id, 'email' AS reason, 1 AS strength FROM ( \
               SELECT id, source, external_id, state, updated_at FROM leads \
               WHERE email_key = i.email_key ORDER BY id DESC LIMIT 50) e \
             WHERE NOT (source = i.source AND external_id = i.external_id) \
               AND (state IN ('routed', 'accepted') OR updated_at >= $3) \
             ORDER BY id DESC LIMIT 5) \
           UNION ALL \
           (SELECT id, 'phone', 2 FROM ( \
               SELECT id, source, external_id, state, updated_at FROM leads \
               WHERE phone_key = i.phone_key ORDER BY id DESC LIMIT 50) p \
             WHERE NOT (source = i.source AND external_id = i.external_id) \
               AND (state IN ('routed', 'accepted') OR updated_at >= $3) \
             ORDER BY id DESC LIMIT 5) \
           UNION ALL \
           (SELECT id, 'person', 3 FROM ( \
               SELECT id, source, state, updated_at FROM leads \
               WHERE person_key = i.person_key ORDER BY id DESC LIMIT 50) n \
             WHERE source <> i.source \
               AND (state IN ('routed', 'accepted') OR updated_at >= $3) \
             ORDER BY id DESC LIMIT 5)) k \
         ORDER BY id DESC, strength LIMIT 5) m \
       JOIN leads l ON l.id = m.id) d ON true \
     ORDER BY i.ord";

/// One input row of `JUDGE`.
#[derive(Serialize)]
struct InputRow<'a> {
    source: &'a str,
    external_id: &'a str,
    email_key: Option<&'a str>,
    phone_key: Option<&'a str>,
    person_key: Option<&'a str>,
    match_key: Option<&'a str>,
    name: Option<&'a str>,
    domain: Option<&'a str>,
    new_id: Uuid,
}

impl<'a> InputRow<'a> {
    fn of(lead: &Subject<'a>) -> InputRow<'a> {
        let (identity, account) = (lead.identity, lead.identity.account.as_ref());
        InputRow {
            source: lead.source,
            external_id: lead.external_id,
            email_key: identity.email_key.as_deref(),
            phone_key: identity.phone_key.as_deref(),
            person_key: identity.person_key.as_deref(),
            match_key: account.map(|a| a.match_key.as_str()),
            name: account.map(|a| a.name.as_str()),
            domain: account.and_then(|a| a.domain.as_deref()),
            new_id: Uuid::now_v7(),
        }
    }
}

/// Finds (or creates) the account and the possible duplicates of each of `leads`. Duplicates are open or accepted leads, or leads decided since
/// `since`. Returns one `Found` per lead, in order.
pub async fn judge(
    conn: &mut PgConnection,
    leads: &[Subject<'_>],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Found>, sqlx::Error> {
    let mut found = judge_once(conn, leads, since, now).await?;
    // A key another statement was creating at the same moment: asked again, it is there.
    let missing: Vec<usize> = (0..leads.len())
        .filter(|&i| leads[i].identity.account.is_some() && found[i].account.is_none())
        .collect();
    if !missing.is_empty() {
        let again: Vec<_> = missing.iter().map(|&i| leads[i]).collect();
        for (i, f) in missing
            .into_iter()
            .zip(judge_once(conn, &again, since, now).await?)
        {
            found[i].account = f.account;
        }
    }
    Ok(found)
}

async fn judge_once(
    conn: &mut PgConnection,
    leads: &[Subject<'_>],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Found>, sqlx::Error> {
    let input: Vec<InputRow<'_>> = leads.iter().map(InputRow::of).collect();
    let rows: Vec<FoundRow> = sqlx::query_as(JUDGE)
        .bind(sqlx::types::Json(input))
        .bind(now)
        .bind(since)
        .fetch_all(&mut *conn)
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

statements!(JUDGE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_spells_the_limits_its_constants_name() {
        let per_key = format!("ORDER BY id DESC LIMIT {MAX_KEY_ROWS})");
        assert_eq!(JUDGE.matches(&per_key).count(), 3, "one bound per key");
        let kept = format!("ORDER BY id DESC, strength LIMIT {MAX_DUPLICATES})");
        assert_eq!(JUDGE.matches(&kept).count(), 1);
    }
}
