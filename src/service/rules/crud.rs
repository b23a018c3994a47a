//! Creating, replacing, deleting and reading rules. A rule is created in `dry_run`; a `PUT`
//! replaces the whole rule and switches it live only when it says `mode: live`. Writes are
//! guarded by the rule's version when the caller names one (`If-Match`), else the last writer
//! wins; each write appends the rule as written to its history.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::label;
use crate::{
    db::{
        reason_codes::{self, ReasonKind},
        routing,
        rules::{self, DryRunMatch, RuleRow, RuleWrite},
    },
    domain::{
        rules::{Action, ActionBody, ConditionBody, Mode, Rule},
        validation::FieldError,
    },
    service::{Error, Result, Service},
};

/// How many recent dry-run matches `GET /v1/rules/{id}` shows.
pub const RECENT_DRY_RUNS: i64 = 20;

/// The 404 of `/v1/rules/{id}`.
pub const NO_RULE: &str = "no rule with this id";

/// A rule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: Uuid,
    /// Its history actor: decisions it makes are logged as this actor.
    pub actor: String,
    pub name: String,
    pub position: i32,
    /// `dry_run` or `live`.
    #[schema(value_type = crate::domain::rules::parse::ModeName)]
    pub mode: String,
    #[schema(value_type = ConditionBody)]
    pub condition: Value,
    #[schema(value_type = ActionBody)]
    pub action: Value,
    /// Bumped by every write; `If-Match` on `PUT` and `DELETE` names it.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What the rule matched while in dry run (`GET /v1/rules/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<DryRunSummary>,
}

/// A rule's dry-run record.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunSummary {
    /// Cycles it matched while in dry run (since it was created).
    pub matches: i64,
    /// The latest matches, newest first.
    pub recent: Vec<DryRunMatch>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    /// In evaluation order.
    pub items: Vec<RuleView>,
}

impl From<RuleRow> for RuleView {
    fn from(r: RuleRow) -> Self {
        RuleView {
            actor: label(r.id),
            id: r.id,
            name: r.name,
            position: r.position,
            mode: r.mode,
            condition: r.condition.0,
            action: r.action.0,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            dry_run: None,
        }
    }
}

/// A rule id of a path.
pub fn parse_rule_id(raw: &str) -> Result<Uuid> {
    raw.parse().map_err(|_| Error::NotFound(NO_RULE))
}

/// An `If-Match` value (`"3"` or `3`) as a version; `StaleVersion` when it cannot be one.
fn expected_version(if_match: Option<&str>) -> Result<Option<i32>> {
    let Some(raw) = if_match else {
        return Ok(None);
    };
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| Error::StaleVersion { current: 0 })
}

impl Service {
    /// Every rule, in evaluation order.
    pub async fn rules(&self) -> Result<RuleList> {
        let items = rules::list(&self.db).await?;
        Ok(RuleList {
            items: items.into_iter().map(RuleView::from).collect(),
        })
    }

    /// One rule with its dry-run record.
    pub async fn rule(&self, id: Uuid) -> Result<RuleView> {
        let row = rules::get(&self.db, id)
            .await?
            .ok_or(Error::NotFound(NO_RULE))?;
        let (matches, recent) = rules::dry_runs(&self.db, id, RECENT_DRY_RUNS).await?;
        let mut view = RuleView::from(row);
        view.dry_run = Some(DryRunSummary { matches, recent });
        Ok(view)
    }

    /// Creates a rule from a body; always in `dry_run` (a body saying `live` is refused).
    pub async fn create_rule(&self, body: &Value, actor: &str) -> Result<RuleView> {
        let rule = self.parse_rule(body).await?;
        if rule.mode == Mode::Live {
            return Err(Error::field(
                "mode",
                "a rule is created in dry_run; switch it live with a PUT that says `live`",
            ));
        }
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let row = rules::create(&self.db, id, &write(&rule), actor, now).await?;
        self.rule_cache.invalidate();
        Ok(row.into())
    }

    /// Replaces rule `id` (at the version `if_match` names, when given).
    pub async fn replace_rule(
        &self,
        id: Uuid,
        body: &Value,
        if_match: Option<&str>,
        actor: &str,
    ) -> Result<RuleView> {
        let expected = expected_version(if_match)?;
        let rule = self.parse_rule(body).await?;
        let now = self.clock.now();
        let row = rules::replace(&self.db, id, &write(&rule), expected, actor, now).await?;
        self.rule_cache.invalidate();
        match row {
            Some(row) => Ok(row.into()),
            None => Err(self.missing_or_stale(id).await),
        }
    }

    /// Deletes rule `id` (at the version `if_match` names, when given). Its history and
    /// dry-run records stay.
    pub async fn delete_rule(&self, id: Uuid, if_match: Option<&str>, actor: &str) -> Result<()> {
        let expected = expected_version(if_match)?;
        let now = self.clock.now();
        let gone = rules::delete(&self.db, id, expected, actor, now).await?;
        self.rule_cache.invalidate();
        if gone {
            Ok(())
        } else {
            Err(self.missing_or_stale(id).await)
        }
    }

    /// Why a guarded write of rule `id` changed nothing.
    async fn missing_or_stale(&self, id: Uuid) -> Error {
        match rules::get(&self.db, id).await {
            Ok(Some(row)) => Error::StaleVersion {
                current: row.version,
            },
            Ok(None) => Error::NotFound(NO_RULE),
            Err(e) => e.into(),
        }
    }

    /// A rule body parsed, with what only the database knows checked: an active code or
    /// reason, an existing queue and rep.
    pub(super) async fn parse_rule(&self, body: &Value) -> Result<Rule> {
        let rule = Rule::parse(body).map_err(Error::Validation)?;
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: String| {
            errors.push(FieldError {
                field: format!("action.{field}"),
                message,
            })
        };
        match &rule.action {
            Action::Reject { code } => {
                if !reason_codes::is_active(&self.db, ReasonKind::Rejection, code).await? {
                    bad("code", format!("`{code}` is not an active rejection code"));
                }
            }
            Action::Recycle { reason } => {
                if !reason_codes::is_active(&self.db, ReasonKind::Recycle, reason).await? {
                    bad(
                        "reason",
                        format!("`{reason}` is not an active recycle reason"),
                    );
                }
            }
            Action::Route { .. } | Action::Accept { .. } => {}
        }
        if let Some((queue, owner)) = rule.action.routes_to() {
            if let Some(q) = queue {
                if routing::queue(&self.db, q).await?.is_none() {
                    bad("queue", format!("no queue `{q}`"));
                }
            }
            if let Some(o) = owner {
                if routing::rep(&self.db, o).await?.is_none() {
                    bad("owner", format!("no rep `{o}`"));
                }
            }
        }
        if errors.is_empty() {
            Ok(rule)
        } else {
            Err(Error::Validation(errors))
        }
    }
}

fn write(rule: &Rule) -> RuleWrite<'_> {
    RuleWrite {
        name: &rule.name,
        position: rule.position,
        mode: rule.mode.as_str(),
        condition: rule.condition.to_json(),
        action: rule.action.to_json(),
    }
}
