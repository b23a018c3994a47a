//! The backtest's read of past cycles: one streamed statement over the cycles routed in a
//! period, returning only the columns the rule reads (the others come back NULL, and
//! PostgreSQL does not fetch them). A rule that reads only what `lead_cycles` holds per cycle
//! (source, lead type, campaign, channel, queue, owner) does not touch `leads` at all.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::{postgres::PgRow, types::Json, PgPool, Row};

/// Which columns to read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Columns {
    pub source: bool,
    pub lead_type: bool,
    pub campaign: bool,
    pub channel: bool,
    pub queue: bool,
    pub owner: bool,
    pub email: bool,
    pub title: bool,
    pub score: bool,
    pub first_name: bool,
    pub last_name: bool,
    pub phone: bool,
    pub company: bool,
    pub attributes: bool,
    pub duplicate_found: bool,
    pub account_accepted: bool,
}

impl Columns {
    /// The `$3` of both statements: one flag per column, in `PastCycleRow` order.
    pub fn flags(&self) -> Vec<bool> {
        vec![
            self.source,
            self.lead_type,
            self.campaign,
            self.channel,
            self.queue,
            self.owner,
            self.email,
            self.title,
            self.score,
            self.first_name,
            self.last_name,
            self.phone,
            self.company,
            self.attributes,
            self.duplicate_found,
            self.account_accepted,
        ]
    }

    /// Whether anything beyond the cycle's own columns is read.
    fn needs_lead(&self) -> bool {
        self.flags()[6..].iter().any(|b| *b)
    }
}

/// One past cycle: its outcome and the columns asked for.
#[derive(Debug)]
pub struct PastCycleRow {
    /// `accepted`, `rejected`, `recycled`, or `None` while open.
    pub outcome: Option<String>,
    pub rejection_code: Option<String>,
    pub recycle_reason: Option<String>,
    pub source: Option<String>,
    pub lead_type: Option<String>,
    pub campaign: Option<String>,
    pub channel: Option<String>,
    pub queue: Option<String>,
    pub owner: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub score: Option<f64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub company: Option<Json<Value>>,
    pub attributes: Option<Json<Value>>,
    pub duplicate_found: Option<bool>,
    pub account_accepted: Option<bool>,
}

impl PastCycleRow {
    /// `row` by position, in the statements' column order, decoding only the columns `cols`
    /// names (the others are NULL): a backtest decodes a row per cycle of its period, a
    /// million in a year, and most of each row is columns the rule does not read.
    fn decode(row: &PgRow, cols: &Columns) -> Result<PastCycleRow, sqlx::Error> {
        fn get<'r, T>(row: &'r PgRow, wanted: bool, i: usize) -> Result<Option<T>, sqlx::Error>
        where
            T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        {
            if wanted {
                row.try_get(i)
            } else {
                Ok(None)
            }
        }
        Ok(PastCycleRow {
            outcome: row.try_get(0)?,
            rejection_code: row.try_get(1)?,
            recycle_reason: row.try_get(2)?,
            source: get(row, cols.source, 3)?,
            lead_type: get(row, cols.lead_type, 4)?,
            campaign: get(row, cols.campaign, 5)?,
            channel: get(row, cols.channel, 6)?,
            queue: get(row, cols.queue, 7)?,
            owner: get(row, cols.owner, 8)?,
            email: get(row, cols.email, 9)?,
            title: get(row, cols.title, 10)?,
            score: get(row, cols.score, 11)?,
            first_name: get(row, cols.first_name, 12)?,
            last_name: get(row, cols.last_name, 13)?,
            phone: get(row, cols.phone, 14)?,
            company: get(row, cols.company, 15)?,
            attributes: get(row, cols.attributes, 16)?,
            duplicate_found: get(row, cols.duplicate_found, 17)?,
            account_accepted: get(row, cols.account_accepted, 18)?,
        })
    }
}

macro_rules! cycle_columns {
    () => {
        "c.outcome, c.rejection_code, c.recycle_reason, \
         CASE WHEN ($3::boolean[])[1] THEN c.source END AS source, \
         CASE WHEN $3[2] THEN c.lead_type END AS lead_type, \
         CASE WHEN $3[3] THEN c.campaign END AS campaign, \
         CASE WHEN $3[4] THEN c.channel END AS channel, \
         CASE WHEN $3[5] THEN c.queue END AS queue, \
         CASE WHEN $3[6] THEN c.owner END AS owner, "
    };
}

const CYCLES_ONLY: &str = concat!(
    "SELECT ",
    cycle_columns!(),
    "NULL::text AS email, NULL::text AS title, NULL::double precision AS score, \
     NULL::text AS first_name, NULL::text AS last_name, NULL::text AS phone, \
     NULL::jsonb AS company, NULL::jsonb AS attributes, NULL::boolean AS duplicate_found, \
     NULL::boolean AS account_accepted \
     FROM lead_cycles c WHERE c.routed_at >= $1 AND c.routed_at < $2"
);

// `duplicate_found`: the lead's possible duplicates as found when its latest cycle was
// routed. `account_accepted`: the account's current acceptance covered the cycle's routing.
const WITH_LEADS: &str = concat!(
    "SELECT ",
    cycle_columns!(),
    "CASE WHEN $3[7] THEN l.email END AS email, \
     CASE WHEN $3[8] THEN l.title END AS title, \
     CASE WHEN $3[9] THEN l.score END AS score, \
     CASE WHEN $3[10] THEN l.first_name END AS first_name, \
     CASE WHEN $3[11] THEN l.last_name END AS last_name, \
     CASE WHEN $3[12] THEN l.phone END AS phone, \
     CASE WHEN $3[13] THEN l.company END AS company, \
     CASE WHEN $3[14] THEN l.attributes END AS attributes, \
     CASE WHEN $3[15] THEN COALESCE(jsonb_array_length(l.possible_duplicates) > 0, false) END \
         AS duplicate_found, \
     CASE WHEN $3[16] THEN EXISTS (SELECT 1 FROM accounts a WHERE a.id = l.account_id \
         AND a.accepted_at <= c.routed_at AND a.accepted_until > c.routed_at) END \
         AS account_accepted \
     FROM lead_cycles c JOIN leads l ON l.id = c.lead_id \
     WHERE c.routed_at >= $1 AND c.routed_at < $2"
);

/// Streams every cycle routed in [`from`, `to`) to `each`, with the columns `cols` names.
pub async fn scan(
    db: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    cols: Columns,
    mut each: impl FnMut(PastCycleRow),
) -> Result<(), sqlx::Error> {
    let query = if cols.needs_lead() {
        sqlx::query(WITH_LEADS)
    } else {
        sqlx::query(CYCLES_ONLY)
    };
    let mut rows = query.bind(from).bind(to).bind(cols.flags()).fetch(db);
    while let Some(row) = rows.try_next().await? {
        each(PastCycleRow::decode(&row, &cols)?);
    }
    Ok(())
}

statements!(CYCLES_ONLY, WITH_LEADS);
