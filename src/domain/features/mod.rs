//! The one place where a lead's inputs become categorical feature values (docs/api.md
//! "Rejection drivers", "Feature normalisation"): what the rejection-drivers report counts and
//! what the acceptance model learns from. Pure functions, no I/O.
//!
//! Every lead has exactly one value in every [`Dimension`] (`unknown` when the input is
//! missing or unreadable) and one per configured attribute key, so a [`FeatureVector`] of a
//! given configuration always has the same length. Stored per cycle as the compact text of
//! [`FeatureVector::encode`] (its `routed` history entry and `lead_cycles.features`).

mod place;
mod size;
#[cfg(test)]
mod tests;
mod title;

use serde::Serialize;
use serde_json::{Map, Value};

pub use place::{country, region};
pub use size::{score_band, size_band};
pub use title::{function, seniority};

use crate::domain::lead_input::Company;

/// The value of a dimension whose input is missing or unreadable.
pub const UNKNOWN: &str = "unknown";

/// Longest value kept (longer ones are cut at a character boundary).
pub const MAX_VALUE_CHARS: usize = 100;

/// What a feature describes. Closed: [`Dimension::ALL`] lists every one, in encoding order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// From the title: c_level, vp, director, manager, individual, unknown.
    TitleSeniority,
    /// From the title: sales, marketing, hr, it, engineering, finance, operations, product,
    /// support, legal, executive, other, unknown.
    TitleFunction,
    /// From `company.size`: `<50`, `50-199`, `200-999`, `1000-4999`, `5000+`, unknown.
    CompanySize,
    /// `company.country` as an ISO 3166 alpha-2 code where known, else its folded text.
    Country,
    /// `company.region` folded, else the region of the country (amer, emea, apac).
    Region,
    /// `company.industry`, case and whitespace folded.
    Industry,
    Campaign,
    Channel,
    Source,
    /// `score`: `<20`, `20-39`, `40-59`, `60-79`, `80+`, unknown.
    ScoreBand,
    LeadType,
    /// A configured key of `attributes` (the feature's `attribute` names it).
    Attribute,
}

impl Dimension {
    /// Every dimension but [`Dimension::Attribute`], in the order a vector holds them.
    pub const FIXED: [Dimension; 11] = [
        Dimension::TitleSeniority,
        Dimension::TitleFunction,
        Dimension::CompanySize,
        Dimension::Country,
        Dimension::Region,
        Dimension::Industry,
        Dimension::Campaign,
        Dimension::Channel,
        Dimension::Source,
        Dimension::ScoreBand,
        Dimension::LeadType,
    ];

    /// Every dimension.
    pub const ALL: [Dimension; 12] = [
        Dimension::TitleSeniority,
        Dimension::TitleFunction,
        Dimension::CompanySize,
        Dimension::Country,
        Dimension::Region,
        Dimension::Industry,
        Dimension::Campaign,
        Dimension::Channel,
        Dimension::Source,
        Dimension::ScoreBand,
        Dimension::LeadType,
        Dimension::Attribute,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::TitleSeniority => "title_seniority",
            Dimension::TitleFunction => "title_function",
            Dimension::CompanySize => "company_size",
            Dimension::Country => "country",
            Dimension::Region => "region",
            Dimension::Industry => "industry",
            Dimension::Campaign => "campaign",
            Dimension::Channel => "channel",
            Dimension::Source => "source",
            Dimension::ScoreBand => "score_band",
            Dimension::LeadType => "lead_type",
            Dimension::Attribute => "attribute",
        }
    }

    pub fn parse(s: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// How a report names it in a sentence ("title function", "company size").
    pub fn label(self) -> &'static str {
        match self {
            Dimension::TitleSeniority => "title seniority",
            Dimension::TitleFunction => "title function",
            Dimension::CompanySize => "company size",
            Dimension::ScoreBand => "score band",
            Dimension::LeadType => "lead type",
            d => d.as_str(),
        }
    }
}

/// One categorical value of a lead.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
pub struct Feature {
    pub dimension: Dimension,
    /// The attribute key, for [`Dimension::Attribute`] only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    pub value: String,
}

impl Feature {
    pub fn new(dimension: Dimension, value: impl Into<String>) -> Feature {
        Feature {
            dimension,
            attribute: None,
            value: value.into(),
        }
    }

    /// The name it is encoded under: the dimension's, or `attribute.<key>`.
    pub fn name(&self) -> String {
        match &self.attribute {
            Some(key) => format!("attribute.{key}"),
            None => self.dimension.as_str().to_owned(),
        }
    }

    /// "title function = hr", "attribute plan = free".
    pub fn describe(&self) -> String {
        match &self.attribute {
            Some(key) => format!("attribute {key} = {}", self.value),
            None => format!("{} = {}", self.dimension.label(), self.value),
        }
    }
}

/// Separates the entries of an encoded vector (never inside a value: [`clean`] drops control
/// characters).
const SEP: char = '\u{1f}';

/// A lead's features: one per fixed dimension, then one per configured attribute key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureVector(pub Vec<Feature>);

impl FeatureVector {
    /// `name=value` entries separated by U+001F, in vector order.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, f) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(SEP);
            }
            out.push_str(&f.name());
            out.push('=');
            out.push_str(&f.value);
        }
        out
    }

    /// Reads [`Self::encode`]'s text; entries of an unknown name (a later version's) are
    /// skipped.
    pub fn decode(s: &str) -> FeatureVector {
        FeatureVector(s.split(SEP).filter_map(decode_entry).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Feature> {
        self.0.iter()
    }
}

/// The `name=value` entries of an encoded vector, as stored (the reports count entries by this
/// text).
pub fn entries(encoded: &str) -> impl Iterator<Item = &str> {
    encoded.split(SEP).filter(|e| !e.is_empty())
}

/// One `name=value` entry.
pub fn decode_entry(entry: &str) -> Option<Feature> {
    let (name, value) = entry.split_once('=')?;
    let feature = match name.strip_prefix("attribute.") {
        Some(key) => Feature {
            dimension: Dimension::Attribute,
            attribute: Some(key.to_owned()),
            value: value.to_owned(),
        },
        None => Feature::new(
            Dimension::parse(name).filter(|d| *d != Dimension::Attribute)?,
            value,
        ),
    };
    Some(feature)
}

/// The inputs features are computed from, borrowed from a new lead or a stored one.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeadInputs<'a> {
    pub title: Option<&'a str>,
    pub company: Option<&'a Company>,
    pub campaign: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub source: &'a str,
    pub score: Option<f64>,
    pub lead_type: &'a str,
    /// The lead's `attributes` object (only the configured keys are read).
    pub attributes: Option<&'a Map<String, Value>>,
}

/// The features of `inputs`, with one attribute feature per key of `attribute_keys`.
pub fn extract(inputs: &LeadInputs<'_>, attribute_keys: &[String]) -> FeatureVector {
    let company = inputs.company;
    let field = |f: fn(&Company) -> Option<&String>| company.and_then(f).map(String::as_str);
    let title = inputs.title;
    let country_code = field(|c| c.country.as_ref()).and_then(country);
    let mut v = Vec::with_capacity(Dimension::FIXED.len() + attribute_keys.len());
    let mut push = |d: Dimension, value: Option<String>| {
        v.push(Feature::new(d, value.unwrap_or_else(|| UNKNOWN.to_owned())));
    };
    push(Dimension::TitleSeniority, Some(seniority(title).to_owned()));
    push(Dimension::TitleFunction, Some(function(title).to_owned()));
    push(
        Dimension::CompanySize,
        company
            .and_then(|c| c.size.as_ref())
            .and_then(size_band)
            .map(str::to_owned),
    );
    push(Dimension::Country, country_code.clone());
    push(
        Dimension::Region,
        field(|c| c.region.as_ref())
            .and_then(fold)
            .or_else(|| country_code.as_deref().and_then(region).map(str::to_owned)),
    );
    push(
        Dimension::Industry,
        field(|c| c.industry.as_ref()).and_then(fold),
    );
    push(Dimension::Campaign, inputs.campaign.and_then(clean));
    push(Dimension::Channel, inputs.channel.and_then(clean));
    push(Dimension::Source, clean(inputs.source));
    push(
        Dimension::ScoreBand,
        inputs.score.and_then(score_band).map(str::to_owned),
    );
    push(Dimension::LeadType, clean(inputs.lead_type));
    for key in attribute_keys {
        let value = inputs
            .attributes
            .and_then(|a| a.get(key))
            .and_then(attribute_value);
        v.push(Feature {
            dimension: Dimension::Attribute,
            attribute: Some(key.clone()),
            value: value.unwrap_or_else(|| UNKNOWN.to_owned()),
        });
    }
    FeatureVector(v)
}

/// An attribute's value: text folded, numbers and booleans as JSON writes them, objects and
/// arrays `other`, null unknown.
fn attribute_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => fold(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(_) | Value::Object(_) => Some("other".to_owned()),
        Value::Null => None,
    }
}

/// Trimmed, control characters dropped, at most [`MAX_VALUE_CHARS`]; `None` when nothing is
/// left. Ids (campaign, channel, source, lead type) keep their case.
pub fn clean(s: &str) -> Option<String> {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE_CHARS * 2)
        .collect();
    let trimmed: String = kept.trim().chars().take(MAX_VALUE_CHARS).collect();
    let trimmed = trimmed.trim_end().to_owned();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// [`clean`], lowercased, every run of whitespace one space: "  Computer   Software" and
/// "computer software" are one value.
pub fn fold(s: &str) -> Option<String> {
    let words: Vec<String> = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    clean(&words.join(" "))
}

/// Reads the setting that lists the attribute keys (comma-separated; each 1–40 of a–z, 0–9,
/// `_`), in the order given, repeats dropped.
pub fn parse_attribute_keys(raw: &str) -> Result<Vec<String>, String> {
    let mut keys: Vec<String> = Vec::new();
    for key in raw.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        let ok = key.len() <= 40
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            return Err(format!(
                "`{key}` is not an attribute key (1-40 of a-z, 0-9 and _)"
            ));
        }
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_owned());
        }
    }
    Ok(keys)
}
