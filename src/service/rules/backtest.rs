//! The backtest (docs/api.md, "Backtest"): what a rule would have matched among the cycles
//! routed in a period, what people actually decided about those cycles, and the acceptance
//! rate of the others against that of all. It streams the cycles once, reading only the
//! columns the rule's condition uses, and evaluates the rule on each with the same code as
//! ingest ([`RuleInput`]).

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    db::rule_backtest::{self, Columns, PastCycleRow},
    domain::{
        body::{Check, Field},
        dates,
        lead_input::Company,
        metrics::rate,
        rules::{Condition, Fact, FieldRef, LeadField, PastCycle, RuleBody, RuleInput},
        validation::FieldError,
    },
    service::{Error, Result, Service},
};

// Read as `domain::body` describes.
/// Body of `POST /v1/rules/backtest`.
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct BacktestBody {
    /// A rule as `POST /v1/rules` takes it (its mode does not matter here).
    #[schema(value_type = RuleBody)]
    pub rule: Field,
    /// Cycles routed at or after this time…
    #[schema(value_type = DateTime<Utc>)]
    pub from: Field,
    /// …and before this one.
    #[schema(value_type = DateTime<Utc>)]
    pub to: Field,
}

/// What the backtest found.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Backtest {
    /// Cycles routed in the period.
    pub cycles: i64,
    /// Of them, those the rule matches.
    pub matched: i64,
    /// What people decided about the matched cycles (`open`: not decided yet).
    pub decisions: BacktestDecisions,
    /// The matched cycles rejected, by code.
    pub rejection_codes: BTreeMap<String, i64>,
    /// The matched cycles recycled from routed, by reason.
    pub recycle_reasons: BTreeMap<String, i64>,
    pub acceptance_rate: BacktestRates,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BacktestDecisions {
    pub accepted: i64,
    pub rejected: i64,
    pub recycled: i64,
    pub open: i64,
}

/// Accepted / routed, as the acceptance report computes it; null for no cycles.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct BacktestRates {
    /// Over every cycle of the period.
    pub all: Option<f64>,
    /// Over the cycles the rule does not match (what people would have decided on).
    pub without_matched: Option<f64>,
}

/// The columns a condition's fields need.
fn columns<'a>(fields: impl Iterator<Item = &'a FieldRef>) -> Columns {
    let mut c = Columns::default();
    for f in fields {
        match f {
            FieldRef::Lead(l) => match l {
                LeadField::Source => c.source = true,
                LeadField::LeadType => c.lead_type = true,
                LeadField::Campaign => c.campaign = true,
                LeadField::Channel => c.channel = true,
                LeadField::Queue => c.queue = true,
                LeadField::Owner => c.owner = true,
                LeadField::Email => c.email = true,
                LeadField::Title => c.title = true,
                LeadField::Score => c.score = true,
                LeadField::FirstName => c.first_name = true,
                LeadField::LastName => c.last_name = true,
                LeadField::Phone => c.phone = true,
            },
            FieldRef::Company(_) => c.company = true,
            FieldRef::Attribute(_) => c.attributes = true,
            FieldRef::Fact(Fact::DuplicateFound) => c.duplicate_found = true,
            FieldRef::Fact(Fact::FreeMail) => c.email = true,
            FieldRef::Fact(Fact::AccountAccepted) => c.account_accepted = true,
        }
    }
    c
}

/// A streamed row as the rule's input.
fn past_cycle(row: PastCycleRow) -> PastCycle {
    PastCycle {
        source: row.source,
        lead_type: row.lead_type,
        email: row.email,
        title: row.title,
        score: row.score,
        campaign: row.campaign,
        channel: row.channel,
        queue: row.queue,
        owner: row.owner,
        first_name: row.first_name,
        last_name: row.last_name,
        phone: row.phone,
        company: row
            .company
            .and_then(|c| serde_json::from_value::<Company>(c.0).ok()),
        attributes: row.attributes.and_then(|a| match a.0 {
            Value::Object(m) => Some(m),
            _ => None,
        }),
        duplicate_found: row.duplicate_found.unwrap_or(false),
        account_accepted: row.account_accepted.unwrap_or(false),
    }
}

fn parse_time(f: &mut Check, key: &str, v: Field) -> Option<DateTime<Utc>> {
    let parsed = match v.get() {
        None => {
            f.error(key, "is required");
            return None;
        }
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Some(_) => None,
    };
    match parsed.filter(|t| dates::instant_in_range(*t)) {
        Some(t) => Some(t),
        None => {
            f.error(key, format!("must be an RFC 3339 time {}", dates::RANGE));
            None
        }
    }
}

/// How many parts of the period a backtest reads at once.
const SCAN_PARTS: i32 = 2;

/// What a backtest counts, over a part of its period.
#[derive(Default)]
struct Tally {
    out: Backtest,
    /// Accepted cycles of all, and of those the rule does not match.
    accepted_all: i64,
    accepted_rest: i64,
}

impl Tally {
    fn add(&mut self, condition: &Condition, row: PastCycleRow) {
        let outcome = row.outcome.clone();
        let (code, reason) = (row.rejection_code.clone(), row.recycle_reason.clone());
        let cycle = past_cycle(row);
        let accepted = outcome.as_deref() == Some("accepted");
        let out = &mut self.out;
        out.cycles += 1;
        self.accepted_all += i64::from(accepted);
        if !condition.evaluate(&RuleInput::of_cycle(&cycle)) {
            self.accepted_rest += i64::from(accepted);
            return;
        }
        out.matched += 1;
        let d = &mut out.decisions;
        match outcome.as_deref() {
            Some("accepted") => d.accepted += 1,
            Some("rejected") => {
                d.rejected += 1;
                *out.rejection_codes
                    .entry(code.unwrap_or_default())
                    .or_default() += 1;
            }
            Some("recycled") => {
                d.recycled += 1;
                *out.recycle_reasons
                    .entry(reason.unwrap_or_default())
                    .or_default() += 1;
            }
            _ => d.open += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        let (out, o) = (&mut self.out, other.out);
        out.cycles += o.cycles;
        out.matched += o.matched;
        out.decisions.accepted += o.decisions.accepted;
        out.decisions.rejected += o.decisions.rejected;
        out.decisions.recycled += o.decisions.recycled;
        out.decisions.open += o.decisions.open;
        for (code, n) in o.rejection_codes {
            *out.rejection_codes.entry(code).or_default() += n;
        }
        for (reason, n) in o.recycle_reasons {
            *out.recycle_reasons.entry(reason).or_default() += n;
        }
        self.accepted_all += other.accepted_all;
        self.accepted_rest += other.accepted_rest;
    }
}

impl Service {
    /// Backtests the rule of a [`BacktestBody`] over the cycles routed in its period.
    pub async fn backtest(&self, body: &Value) -> Result<Backtest> {
        let (BacktestBody { rule, from, to }, mut f) =
            Check::read(body).map_err(Error::Validation)?;
        let from = parse_time(&mut f, "from", from);
        let to = parse_time(&mut f, "to", to);
        if let (Some(a), Some(b)) = (from, to) {
            if a >= b {
                f.error("to", "must be after `from`");
            }
        }
        let rule = match rule.get() {
            None => {
                f.error("rule", "is required");
                None
            }
            Some(v) => match self.parse_rule(v).await {
                Ok(r) => Some(r),
                Err(Error::Validation(errors)) => {
                    f.errors.extend(errors.into_iter().map(|e| FieldError {
                        field: format!("rule.{}", e.field),
                        message: e.message,
                    }));
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let (rule, from, to) = f
            .done(rule.zip(from).zip(to).map(|((r, a), b)| (r, a, b)))
            .map_err(Error::Validation)?;
        let condition = Arc::new(rule.condition);
        let cols = columns(condition.fields());
        // The period in parts read side by side, each on its own connection and worker:
        // decoding a million rows takes longer than PostgreSQL takes to send them.
        let mut parts = tokio::task::JoinSet::new();
        let step = (to - from) / SCAN_PARTS;
        for i in 0..SCAN_PARTS {
            let start = from + step * i;
            let end = if i + 1 == SCAN_PARTS {
                to
            } else {
                start + step
            };
            let (db, condition) = (self.db.clone(), Arc::clone(&condition));
            parts.spawn(async move {
                let mut tally = Tally::default();
                rule_backtest::scan(&db, start, end, cols, |row| tally.add(&condition, row))
                    .await
                    .map(|()| tally)
            });
        }
        let mut all = Tally::default();
        while let Some(part) = parts.join_next().await {
            let part = part.map_err(|e| Error::Internal(anyhow::anyhow!("backtest part: {e}")))?;
            all.merge(part?);
        }
        let mut out = all.out;
        out.acceptance_rate = BacktestRates {
            all: rate(all.accepted_all, out.cycles),
            without_matched: rate(all.accepted_rest, out.cycles - out.matched),
        };
        Ok(out)
    }
}
