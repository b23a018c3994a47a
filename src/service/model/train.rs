//! One training run: the labelled cycles of the last [`WINDOW`], the newest [`HOLDOUT_SHARE`]
//! of that period (by routing time) held out to measure the model fitted to the rest, then the
//! served model refitted to every cycle. Runs in one transaction under the trainer lock
//! (`db::model::Training`): one replica at a time, one snapshot.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::ModelSettings;
use crate::{
    db::model::{NewModel, Training},
    domain::{
        features::FeatureVector,
        model::{
            eval::{Holdout, Quality},
            Counts, NaiveBayes,
        },
    },
};

/// The routing times trained on: the labelled cycles routed in the year before the run.
pub const WINDOW: chrono::Duration = chrono::Duration::days(365);

/// The share of the period's time span (the newest part) held out for evaluation.
pub const HOLDOUT_SHARE: f64 = 0.2;

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub enum Trained {
    /// Another replica holds the trainer lock.
    Busy,
    /// The newest model is younger than the retrain interval (another replica trained it).
    Fresh,
    /// A model row was stored.
    Stored {
        id: i64,
        ready: bool,
        cycles: i64,
        quality: Quality,
    },
}

/// Trains at `now` unless a model younger than the retrain interval exists (`force`: anyway).
pub async fn train(
    pool: &PgPool,
    now: DateTime<Utc>,
    settings: &ModelSettings,
    force: bool,
) -> sqlx::Result<Trained> {
    let Some(mut run) = Training::begin(pool).await? else {
        return Ok(Trained::Busy);
    };
    let interval =
        chrono::Duration::from_std(settings.retrain_interval).unwrap_or(chrono::Duration::MAX);
    if !force {
        if let Some(at) = run.latest_trained_at().await? {
            if now.signed_duration_since(at) < interval {
                return Ok(Trained::Fresh);
            }
        }
    }
    // Cycles routed up to and including `now`.
    let (from, to) = (now - WINDOW, now + chrono::Duration::microseconds(1));
    let labelled = run.labelled(from, to).await?;
    let (Some(first), Some(last)) = (labelled.first, labelled.last) else {
        return store_not_ready(run, now, labelled.cycles, None, settings).await;
    };
    if (labelled.cycles as u64) < settings.min_cycles {
        return store_not_ready(run, now, labelled.cycles, Some((first, last)), settings).await;
    }
    let cut = holdout_start(first, last);
    let split = run.counts(from, to, cut).await?;
    let evaluated = NaiveBayes::fit(&split.training, settings.params());
    let mut holdout = Holdout::default();
    run.holdout(cut, to, |encoded, accepted| {
        let named = super::named(&FeatureVector::decode(encoded));
        let p = evaluated.score(named.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        holdout.push(p, accepted);
    })
    .await?;
    let quality = holdout.quality();
    let id = run
        .store(&NewModel {
            trained_at: now,
            ready: true,
            period_from: Some(first),
            period_to: Some(last),
            holdout_from: Some(cut),
            training_cycles: labelled.cycles,
            holdout_cycles: quality.cycles as i64,
            alpha: super::ALPHA,
            min_support: settings.min_support as i64,
            counts: &split.all,
            quality: &quality,
        })
        .await?;
    Ok(Trained::Stored {
        id,
        ready: true,
        cycles: labelled.cycles,
        quality,
    })
}

/// Where the holdout starts: [`HOLDOUT_SHARE`] of the period's span before its last cycle.
pub fn holdout_start(first: DateTime<Utc>, last: DateTime<Utc>) -> DateTime<Utc> {
    let span = last.signed_duration_since(first);
    let micros = span.num_microseconds().unwrap_or(i64::MAX) as f64;
    first + chrono::Duration::microseconds((micros * (1.0 - HOLDOUT_SHARE)) as i64)
}

/// Stores a `not_enough_data` model: no counts, so no replica serves predictions from it.
async fn store_not_ready(
    run: Training,
    now: DateTime<Utc>,
    cycles: i64,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    settings: &ModelSettings,
) -> sqlx::Result<Trained> {
    let quality = Holdout::default().quality();
    let id = run
        .store(&NewModel {
            trained_at: now,
            ready: false,
            period_from: period.map(|p| p.0),
            period_to: period.map(|p| p.1),
            holdout_from: None,
            training_cycles: cycles,
            holdout_cycles: 0,
            alpha: super::ALPHA,
            min_support: settings.min_support as i64,
            counts: &Counts::default(),
            quality: &quality,
        })
        .await?;
    Ok(Trained::Stored {
        id,
        ready: false,
        cycles,
        quality,
    })
}
