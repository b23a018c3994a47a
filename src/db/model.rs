//! The acceptance model's rows (`models`, see its migration) and the counts it is trained from:
//! one GROUP BY over the labelled cycles of `lead_cycles` and their stored features, and a
//! stream of the holdout's cycles. Training runs in one REPEATABLE READ transaction under an
//! advisory lock, so one replica trains at a time and the counts and the holdout see one
//! snapshot.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{types::Json, FromRow, PgPool, Postgres, Transaction};

use crate::domain::{
    features::decode_entry,
    model::{eval::Quality, Counts, Label},
};

/// Advisory lock key of the trainer: one at a time across replicas.
const TRAINER_LOCK: i64 = 0x5a17_c0de_0002;

/// How many model rows are kept (the newest; older ones are deleted when one is stored).
pub const KEEP: i64 = 24;

const REPEATABLE_READ: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";
const TRY_TRAINER_LOCK: &str = "SELECT pg_try_advisory_xact_lock($1)";
const LATEST_TRAINED_AT: &str = "SELECT max(trained_at) FROM models";
/// The labelled cycles routed in `[$1, $2)`: how many, the first and the last routing time.
const LABELLED_RANGE: &str =
    "SELECT count(*) AS cycles, min(routed_at) AS first, max(routed_at) AS last \
         FROM lead_cycles \
         WHERE routed_at >= $1 AND routed_at < $2 AND outcome IN ('accepted', 'rejected')";
/// Labelled cycles of `[$1, $2)` per side of the cut `$3` (before it: training), label and code.
const TOTALS: &str = "SELECT c.routed_at < $3 AS before, c.outcome = 'accepted' AS accepted, \
           COALESCE(c.rejection_code, '') AS code, count(*) AS n \
         FROM lead_cycles c \
         WHERE c.routed_at >= $1 AND c.routed_at < $2 AND c.outcome IN ('accepted', 'rejected') \
         GROUP BY 1, 2, 3";
/// The same per stored feature (`name=value` entries separated by U+001F).
const VALUES: &str = "SELECT c.routed_at < $3 AS before, c.outcome = 'accepted' AS accepted, \
           COALESCE(c.rejection_code, '') AS code, f.entry, count(*) AS n \
         FROM lead_cycles c CROSS JOIN LATERAL unnest(string_to_array(c.features, chr(31))) AS f(entry) \
         WHERE c.routed_at >= $1 AND c.routed_at < $2 AND c.outcome IN ('accepted', 'rejected') \
         GROUP BY 1, 2, 3, 4";
/// The holdout's labelled cycles, `[$1, $2)`, with their stored features.
const HOLDOUT: &str =
    "SELECT COALESCE(c.features, '') AS features, c.outcome = 'accepted' AS accepted \
         FROM lead_cycles c \
         WHERE c.routed_at >= $1 AND c.routed_at < $2 AND c.outcome IN ('accepted', 'rejected')";
const INSERT: &str =
    "INSERT INTO models (trained_at, ready, period_from, period_to, holdout_from, \
           training_cycles, holdout_cycles, alpha, min_support, counts, quality) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id";
const PRUNE: &str = "DELETE FROM models WHERE id < $1 \
           AND id NOT IN (SELECT id FROM models ORDER BY id DESC LIMIT $2)";
const LATEST: &str = "SELECT id, trained_at, ready, period_from, period_to, holdout_from, \
           training_cycles, holdout_cycles, alpha, min_support, counts, quality \
         FROM models ORDER BY id DESC LIMIT 1";
const LATEST_ID: &str = "SELECT max(id) FROM models";

statements!(
    REPEATABLE_READ,
    TRY_TRAINER_LOCK,
    LATEST_TRAINED_AT,
    LABELLED_RANGE,
    TOTALS,
    VALUES,
    HOLDOUT,
    INSERT,
    PRUNE,
    LATEST,
    LATEST_ID,
);

/// A stored model.
#[derive(Debug, Clone, FromRow)]
pub struct ModelRow {
    pub id: i64,
    pub trained_at: DateTime<Utc>,
    pub ready: bool,
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    pub holdout_from: Option<DateTime<Utc>>,
    pub training_cycles: i64,
    pub holdout_cycles: i64,
    pub alpha: f64,
    pub min_support: i64,
    pub counts: Json<Counts>,
    pub quality: Json<Quality>,
}

/// The labelled cycles of a period.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct Labelled {
    pub cycles: i64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

/// The counts of a period, split at the holdout's start.
#[derive(Debug, Default)]
pub struct SplitCounts {
    /// Cycles routed before the cut: what the evaluated model is fitted to.
    pub training: Counts,
    /// Every cycle of the period: what the served model is fitted to.
    pub all: Counts,
}

/// A training run's transaction, holding the trainer lock.
pub struct Training {
    tx: Transaction<'static, Postgres>,
}

impl Training {
    /// Begins a run; `None` when another replica is training.
    pub async fn begin(pool: &PgPool) -> sqlx::Result<Option<Training>> {
        let mut tx = pool.begin().await?;
        sqlx::query(REPEATABLE_READ).execute(&mut *tx).await?;
        let locked: bool = sqlx::query_scalar(TRY_TRAINER_LOCK)
            .bind(TRAINER_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        Ok(locked.then_some(Training { tx }))
    }

    /// When the newest stored model was trained.
    pub async fn latest_trained_at(&mut self) -> sqlx::Result<Option<DateTime<Utc>>> {
        sqlx::query_scalar(LATEST_TRAINED_AT)
            .fetch_one(&mut *self.tx)
            .await
    }

    pub async fn labelled(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> sqlx::Result<Labelled> {
        sqlx::query_as(LABELLED_RANGE)
            .bind(from)
            .bind(to)
            .fetch_one(&mut *self.tx)
            .await
    }

    /// The counts of `[from, to)`, training being the cycles routed before `cut`.
    pub async fn counts(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cut: DateTime<Utc>,
    ) -> sqlx::Result<SplitCounts> {
        let mut split = SplitCounts::default();
        let totals: Vec<(bool, bool, String, i64)> = sqlx::query_as(TOTALS)
            .bind(from)
            .bind(to)
            .bind(cut)
            .fetch_all(&mut *self.tx)
            .await?;
        for (before, accepted, code, n) in totals {
            let label = label(accepted, &code);
            split.all.add_total(label, n as u64);
            if before {
                split.training.add_total(label, n as u64);
            }
        }
        let mut rows = sqlx::query_as::<_, (bool, bool, String, String, i64)>(VALUES)
            .bind(from)
            .bind(to)
            .bind(cut)
            .fetch(&mut *self.tx);
        while let Some((before, accepted, code, entry, n)) = rows.try_next().await? {
            // An entry of a name this version does not know is skipped, as decoding does.
            let Some(feature) = decode_entry(&entry) else {
                continue;
            };
            let (name, value) = (feature.name(), feature.value.as_str());
            let label = label(accepted, &code);
            split.all.add_value(&name, value, label, n as u64);
            if before {
                split.training.add_value(&name, value, label, n as u64);
            }
        }
        Ok(split)
    }

    /// Hands each labelled cycle of `[from, to)` to `sink`: its stored features (encoded) and
    /// whether it was accepted.
    pub async fn holdout(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut sink: impl FnMut(&str, bool),
    ) -> sqlx::Result<()> {
        let mut rows = sqlx::query_as::<_, (String, bool)>(HOLDOUT)
            .bind(from)
            .bind(to)
            .fetch(&mut *self.tx);
        while let Some((features, accepted)) = rows.try_next().await? {
            sink(&features, accepted);
        }
        Ok(())
    }

    /// Stores `m`, deletes all but the newest [`KEEP`] models, and commits.
    pub async fn store(mut self, m: &NewModel<'_>) -> sqlx::Result<i64> {
        let id: i64 = sqlx::query_scalar(INSERT)
            .bind(m.trained_at)
            .bind(m.ready)
            .bind(m.period_from)
            .bind(m.period_to)
            .bind(m.holdout_from)
            .bind(m.training_cycles)
            .bind(m.holdout_cycles)
            .bind(m.alpha)
            .bind(m.min_support)
            .bind(Json(m.counts))
            .bind(Json(m.quality))
            .fetch_one(&mut *self.tx)
            .await?;
        sqlx::query(PRUNE)
            .bind(id)
            .bind(KEEP)
            .execute(&mut *self.tx)
            .await?;
        self.tx.commit().await?;
        Ok(id)
    }
}

/// A model to store (see [`ModelRow`]).
pub struct NewModel<'a> {
    pub trained_at: DateTime<Utc>,
    pub ready: bool,
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    pub holdout_from: Option<DateTime<Utc>>,
    pub training_cycles: i64,
    pub holdout_cycles: i64,
    pub alpha: f64,
    pub min_support: i64,
    pub counts: &'a Counts,
    pub quality: &'a Quality,
}

fn label(accepted: bool, code: &str) -> Label<'_> {
    if accepted {
        Label::Accepted
    } else {
        Label::Rejected(code)
    }
}

/// The newest model, if any was trained.
pub async fn latest(pool: &PgPool) -> sqlx::Result<Option<ModelRow>> {
    sqlx::query_as(LATEST).fetch_optional(pool).await
}

/// The id of the newest model (a replica's cache compares it with its own).
pub async fn latest_id(pool: &PgPool) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(LATEST_ID).fetch_one(pool).await
}
