//! Ingest rules (docs/api.md, "Ingest rules"): writing them (`crud.rs`), applying them to each
//! lead ingest stores (`at_ingest.rs`), and backtesting one on the log (`backtest.rs`). The
//! rules are read through a per-replica cache ([`RuleCache`]), so ingest reads no rule row.

mod at_ingest;
mod backtest;
pub mod crud;

use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sqlx::PgPool;
use uuid::Uuid;

pub use at_ingest::RuleOutcome;
pub use backtest::{Backtest, BacktestBody, BacktestDecisions, BacktestRates};
pub use crud::{DryRunSummary, RuleList, RuleView};

use crate::{
    db::rules::{self, RuleRow},
    domain::rules::{FieldRef, Mode, Rule},
};

/// A stored rule, parsed.
#[derive(Debug)]
pub struct StoredRule {
    pub id: Uuid,
    /// `rule:<id>`: its history actor.
    pub label: String,
    pub rule: Rule,
}

/// The rules as of one read: live ones and dry-run ones, each in evaluation order.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub live: Vec<StoredRule>,
    pub dry_run: Vec<StoredRule>,
    /// Whether some rule reads `attributes.*` (only then are a lead's attributes parsed).
    pub reads_attributes: bool,
}

impl RuleSet {
    fn from_rows(rows: Vec<RuleRow>) -> RuleSet {
        let mut set = RuleSet::default();
        for row in rows {
            let Some(rule) = parse_row(&row) else {
                continue;
            };
            set.reads_attributes |= rule
                .condition
                .fields()
                .any(|f| matches!(f, FieldRef::Attribute(_)));
            let stored = StoredRule {
                id: row.id,
                label: label(row.id),
                rule,
            };
            match stored.rule.mode {
                Mode::Live => set.live.push(stored),
                Mode::DryRun => set.dry_run.push(stored),
            }
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.dry_run.is_empty()
    }
}

/// The history actor of rule `id`.
pub fn label(id: Uuid) -> String {
    format!("rule:{id}")
}

/// A stored row as a rule; `None` (logged) for a row the parser refuses, which only a hand
/// edit of the table can make.
fn parse_row(row: &RuleRow) -> Option<Rule> {
    let body = serde_json::json!({
        "name": row.name,
        "position": row.position,
        "mode": row.mode,
        "condition": row.condition.0,
        "action": row.action.0,
    });
    match Rule::parse(&body) {
        Ok(rule) => Some(rule),
        Err(e) => {
            tracing::error!(rule = %row.id, errors = ?e, "stored rule does not parse; ignoring it");
            None
        }
    }
}

/// The rules, per replica for the TTL (as the other caches: a change through this replica
/// applies at once, through another within the TTL).
pub struct RuleCache {
    ttl: Duration,
    current: RwLock<Option<(Instant, Arc<RuleSet>)>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl RuleCache {
    pub fn new(ttl: Duration) -> Self {
        RuleCache {
            ttl,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<Arc<RuleSet>> {
        let cur = self.current.read().unwrap_or_else(|e| e.into_inner());
        cur.as_ref()
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, s)| s.clone())
    }

    pub async fn get(&self, db: &PgPool) -> Result<Arc<RuleSet>, sqlx::Error> {
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let _guard = self.refreshing.lock().await;
        if let Some(s) = self.fresh() {
            return Ok(s);
        }
        let set = Arc::new(RuleSet::from_rows(rules::list(db).await?));
        *self.current.write().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), set.clone()));
        Ok(set)
    }

    /// Drops the snapshot (after a rule was written on this replica).
    pub fn invalidate(&self) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
