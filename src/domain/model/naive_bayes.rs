//! Naive Bayes over categorical features, fitted from [`Counts`]: the log odds of acceptance
//! are the prior log odds plus, per feature, the log-likelihood ratio of its value
//! (`ln P(value | accepted) − ln P(value | rejected)`), which is also the factor's `effect`.

use std::collections::HashMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::{Counts, Tally, OTHER, TOP_FACTORS};

/// How a model is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Laplace smoothing: added to every count.
    pub alpha: f64,
    /// Values seen in fewer training cycles than this are pooled into [`OTHER`].
    pub min_support: u64,
}

/// One feature's contribution to a prediction: positive effects raise `p_accept`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Factor {
    pub dimension: String,
    /// The value as the model knows it: the lead's, or `other` when it was pooled or unseen.
    pub value: String,
    /// The log-likelihood ratio `ln P(value | accepted) − ln P(value | rejected)`.
    pub effect: f64,
}

/// A lead's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Prediction {
    /// The probability that sales accepts the lead, 0 to 1.
    pub p_accept: f64,
    /// The rejection code most likely if it is rejected (null when training saw no rejection).
    pub likely_rejection_code: Option<String>,
    /// The strongest factors, by absolute effect, at most three.
    pub top_factors: Vec<Factor>,
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct NaiveBayes {
    /// `ln (accepted + α) − ln (rejected + α)`.
    prior: f64,
    codes: Vec<String>,
    /// `ln P(code | rejected)`, per code of `codes`.
    code_prior: Vec<f64>,
    dimensions: HashMap<String, Dimension>,
}

#[derive(Debug, Clone)]
struct Dimension {
    values: HashMap<String, Value>,
    other: Value,
}

#[derive(Debug, Clone)]
struct Value {
    name: String,
    cycles: u64,
    effect: f64,
    /// `ln P(value | rejected with code)`, per code of the model's `codes`.
    code_ll: Vec<f64>,
}

impl NaiveBayes {
    /// Fits the model to `counts`.
    pub fn fit(counts: &Counts, params: Params) -> NaiveBayes {
        let a = params.alpha;
        let total = &counts.total;
        let codes: Vec<String> = total.codes.keys().cloned().collect();
        let rejected = total.rejected as f64;
        let code_prior = codes
            .iter()
            .map(|c| {
                let n = total.codes.get(c).copied().unwrap_or(0) as f64;
                ((n + a) / (rejected + a * codes.len() as f64)).ln()
            })
            .collect();
        let dimensions = counts
            .dimensions
            .iter()
            .map(|(name, values)| (name.clone(), Dimension::fit(values, &codes, params)))
            .collect();
        NaiveBayes {
            prior: ((total.accepted as f64 + a) / (rejected + a)).ln(),
            codes,
            code_prior,
            dimensions,
        }
    }

    /// The probability of acceptance of a lead with `features` (dimension, value); features of
    /// a dimension the model has not seen contribute nothing.
    pub fn score<'a>(&self, features: impl IntoIterator<Item = (&'a str, &'a str)>) -> f64 {
        let logit = features
            .into_iter()
            .filter_map(|(d, v)| self.value(d, v))
            .fold(self.prior, |sum, v| sum + v.effect);
        sigmoid(logit)
    }

    /// [`NaiveBayes::score`] with the likely rejection code and the top factors.
    pub fn predict<'a>(
        &self,
        features: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Prediction {
        let mut logit = self.prior;
        let mut code_score = self.code_prior.clone();
        let mut factors = Vec::new();
        for (dimension, value) in features {
            let Some(v) = self.value(dimension, value) else {
                continue;
            };
            logit += v.effect;
            for (s, ll) in code_score.iter_mut().zip(&v.code_ll) {
                *s += ll;
            }
            factors.push(Factor {
                dimension: dimension.to_owned(),
                value: v.name.clone(),
                effect: round4(v.effect),
            });
        }
        factors.sort_by(by_strength);
        factors.truncate(TOP_FACTORS);
        Prediction {
            p_accept: round4(sigmoid(logit)),
            likely_rejection_code: argmax(&code_score).map(|i| self.codes[i].clone()),
            top_factors: factors,
        }
    }

    /// The `n` values (pooled `other` included) with the largest absolute effect, with the
    /// training cycles each was seen in.
    pub fn strongest(&self, n: usize) -> Vec<(Factor, u64)> {
        let mut all: Vec<(Factor, u64)> = self
            .dimensions
            .iter()
            .flat_map(|(d, dim)| {
                dim.values.values().chain([&dim.other]).map(move |v| {
                    let f = Factor {
                        dimension: d.clone(),
                        value: v.name.clone(),
                        effect: round4(v.effect),
                    };
                    (f, v.cycles)
                })
            })
            .filter(|(_, cycles)| *cycles > 0)
            .collect();
        all.sort_by(|x, y| by_strength(&x.0, &y.0));
        all.truncate(n);
        all
    }

    fn value(&self, dimension: &str, value: &str) -> Option<&Value> {
        let d = self.dimensions.get(dimension)?;
        Some(d.values.get(value).unwrap_or(&d.other))
    }
}

impl Dimension {
    /// Keeps the values with enough support, pools the rest into `other`, and smooths each
    /// over the dimension's categories (the kept values and `other`).
    fn fit(
        values: &std::collections::BTreeMap<String, Tally>,
        codes: &[String],
        p: Params,
    ) -> Self {
        let mut kept = Vec::new();
        let mut other = Tally::default();
        let mut sum = Tally::default();
        for (name, t) in values {
            sum.merge(t);
            if t.cycles() >= p.min_support && name != OTHER {
                kept.push((name, t));
            } else {
                other.merge(t);
            }
        }
        let k = (kept.len() + 1) as f64;
        let a = p.alpha;
        let ll = |n: u64, of: u64| ((n as f64 + a) / (of as f64 + a * k)).ln();
        let value = |name: &str, t: &Tally| Value {
            name: name.to_owned(),
            cycles: t.cycles(),
            effect: ll(t.accepted, sum.accepted) - ll(t.rejected, sum.rejected),
            code_ll: codes
                .iter()
                .map(|c| {
                    let of = sum.codes.get(c).copied().unwrap_or(0);
                    ll(t.codes.get(c).copied().unwrap_or(0), of)
                })
                .collect(),
        };
        Dimension {
            values: kept
                .into_iter()
                .map(|(name, t)| (name.clone(), value(name, t)))
                .collect(),
            other: value(OTHER, &other),
        }
    }
}

/// Largest absolute effect first; ties by dimension, then value (a stable answer).
fn by_strength(x: &Factor, y: &Factor) -> std::cmp::Ordering {
    y.effect
        .abs()
        .total_cmp(&x.effect.abs())
        .then_with(|| (&x.dimension, &x.value).cmp(&(&y.dimension, &y.value)))
}

/// The index of the largest score (the first of equal ones); `None` for none.
fn argmax(scores: &[f64]) -> Option<usize> {
    scores
        .iter()
        .enumerate()
        .fold(None, |best: Option<(usize, f64)>, (i, &s)| match best {
            Some((_, b)) if b >= s => best,
            _ => Some((i, s)),
        })
        .map(|(i, _)| i)
}

/// The logistic function, without overflow for large `|x|`.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
