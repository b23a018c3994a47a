//! Campaigns with known spend (`campaigns`, `campaign_spend`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;

use crate::domain::spend::Spend;

/// A campaign and its spend per month, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Campaign {
    pub id: String,
    pub currency: String,
    pub spend: Vec<MonthSpend>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MonthSpend {
    /// `YYYY-MM`.
    pub month: String,
    pub amount: f64,
}

#[derive(FromRow)]
struct Row {
    id: String,
    currency: String,
    updated_at: DateTime<Utc>,
    months: Vec<NaiveDate>,
    amounts: Vec<f64>,
}

impl Row {
    fn into_campaign(self) -> Campaign {
        Campaign {
            id: self.id,
            currency: self.currency,
            updated_at: self.updated_at,
            spend: self
                .months
                .into_iter()
                .zip(self.amounts)
                .map(|(m, amount)| MonthSpend {
                    month: crate::domain::spend::month_key(m),
                    amount,
                })
                .collect(),
        }
    }

    /// The months as first days with their amounts.
    fn into_spend(self) -> (String, Spend) {
        let months = self.months.into_iter().zip(self.amounts).collect();
        (
            self.id,
            Spend {
                currency: self.currency,
                months,
            },
        )
    }
}

const GET: &str = concat!(
    "SELECT c.id, c.currency, c.updated_at, \
       COALESCE(array_agg(s.month ORDER BY s.month) FILTER (WHERE s.month IS NOT NULL), '{}') \
         AS months, \
       COALESCE(array_agg(s.amount::float8 ORDER BY s.month) \
         FILTER (WHERE s.month IS NOT NULL), '{}') AS amounts \
     FROM campaigns c LEFT JOIN campaign_spend s ON s.campaign = c.id ",
    "WHERE c.id = $1 GROUP BY c.id"
);
const LIST: &str = concat!(
    "SELECT c.id, c.currency, c.updated_at, \
       COALESCE(array_agg(s.month ORDER BY s.month) FILTER (WHERE s.month IS NOT NULL), '{}') \
         AS months, \
       COALESCE(array_agg(s.amount::float8 ORDER BY s.month) \
         FILTER (WHERE s.month IS NOT NULL), '{}') AS amounts \
     FROM campaigns c LEFT JOIN campaign_spend s ON s.campaign = c.id ",
    "GROUP BY c.id ORDER BY c.id"
);
const UPSERT: &str = "INSERT INTO campaigns (id, currency, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET currency = EXCLUDED.currency, \
           updated_at = EXCLUDED.updated_at";
const CLEAR_SPEND: &str = "DELETE FROM campaign_spend WHERE campaign = $1";
const ADD_SPEND: &str = "INSERT INTO campaign_spend (campaign, month, amount) \
         SELECT $1, m, a FROM unnest($2::date[], $3::float8[]) AS s(m, a)";

pub async fn get(pool: &PgPool, id: &str) -> sqlx::Result<Option<Campaign>> {
    let row: Option<Row> = sqlx::query_as(GET).bind(id).fetch_optional(pool).await?;
    Ok(row.map(Row::into_campaign))
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Campaign>> {
    let rows: Vec<Row> = sqlx::query_as(LIST).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Row::into_campaign).collect())
}

/// Every campaign's spend, by id (reports prorate it to their period).
pub async fn all_spend(pool: &PgPool) -> sqlx::Result<Vec<(String, Spend)>> {
    let rows: Vec<Row> = sqlx::query_as(LIST).fetch_all(pool).await?;
    Ok(rows.into_iter().map(Row::into_spend).collect())
}

/// Replaces campaign `id`'s spend with `spend`, in one transaction.
pub async fn put(pool: &PgPool, id: &str, spend: &Spend, now: DateTime<Utc>) -> sqlx::Result<()> {
    let (months, amounts): (Vec<NaiveDate>, Vec<f64>) = spend.months.iter().copied().unzip();
    let mut tx = pool.begin().await?;
    sqlx::query(UPSERT)
        .bind(id)
        .bind(&spend.currency)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(CLEAR_SPEND).bind(id).execute(&mut *tx).await?;
    sqlx::query(ADD_SPEND)
        .bind(id)
        .bind(&months)
        .bind(&amounts)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

statements!(GET, LIST, UPSERT, CLEAR_SPEND, ADD_SPEND);
