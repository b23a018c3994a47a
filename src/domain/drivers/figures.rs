//! The rejection-drivers report's figures, as the API returns them (`super::Counter` makes
//! them).

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::features::{Dimension, Feature};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CodeCount {
    pub code: String,
    pub count: i64,
}

/// A rate's 95 % Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// One reported value of a dimension.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ValueFigures {
    pub value: String,
    /// Decided (accepted or rejected) cycles with this value.
    pub cycles: i64,
    pub rejected: i64,
    /// rejected / cycles.
    pub rejection_rate: Option<f64>,
    /// rejection_rate / the period's rejection rate (null when the period has none).
    pub lift: Option<f64>,
    /// rejected / all rejections of the period.
    pub share: Option<f64>,
    /// Wilson 95 % interval of the rejection rate.
    pub interval: Option<Interval>,
    /// The most frequent codes of its rejections (at most 3, most frequent first).
    pub codes: Vec<CodeCount>,
}

/// The values of one dimension (or of one attribute key).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DimensionFigures {
    pub dimension: Dimension,
    /// The attribute key, for `attribute`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// Values with fewer cycles than the minimum support (not listed).
    pub suppressed: i64,
    /// Values with enough cycles, largest share of rejections first.
    pub values: Vec<ValueFigures>,
}

/// The period's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct Totals {
    pub cycles: i64,
    pub rejected: i64,
    pub rejection_rate: Option<f64>,
}

/// The fewest values with lift above 1 that together explain the most rejections.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Summary {
    pub features: Vec<Feature>,
    /// Rejected cycles with at least one of them.
    pub rejected: i64,
    /// rejected / all rejections of the period (the union, not a sum of overlapping shares).
    pub share: Option<f64>,
    /// "title function = hr and company size = <50 explain 76 % of rejections".
    pub text: String,
}

/// The report's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Drivers {
    pub min_support: i64,
    pub total: Totals,
    pub dimensions: Vec<DimensionFigures>,
    /// Null when no value qualifies.
    pub summary: Option<Summary>,
}
