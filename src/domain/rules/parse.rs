//! A rule body, read as `domain::body` describes: the structs below are its OpenAPI schema,
//! and [`Rule::parse`] checks every member, naming each bad one by its path
//! (`condition.all[2].op`, `action.owner`).

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

mod condition;

use self::condition::parse_condition;
use super::{Action, Mode, Rule};
use crate::domain::{
    body::{Check, Field},
    slug::{opt_id_schema, opt_key_schema},
    validation::{FieldError, SlugKind},
};

/// Most clauses a condition may have.
pub const MAX_CLAUSES: usize = 50;
/// Most values an `in` list may have.
pub const MAX_IN: usize = 500;
/// Longest `matches` pattern, and the compiled program's size limit (bytes).
pub const MAX_PATTERN: usize = 500;
pub const REGEX_SIZE_LIMIT: usize = 1 << 18;
/// Highest position.
pub const MAX_POSITION: i64 = 1_000_000;

/// `dry_run` or `live`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeName {
    DryRun,
    Live,
}

/// A clause's operator.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OpName {
    Eq,
    In,
    Matches,
    Lt,
    Gt,
    Missing,
}

/// An action's type.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionType {
    Route,
    Reject,
    Recycle,
    Accept,
}

// Read by `Rule::parse` (see `crate::domain::body`).
/// An ingest rule as `POST /v1/rules` and `PUT /v1/rules/{id}` take it.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RuleBody {
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$")]
    pub name: Field,
    /// Rules are evaluated by position, lowest first (ties: oldest first).
    #[schema(value_type = i32, minimum = 0, maximum = 1000000)]
    pub position: Field,
    /// `dry_run` (the default) records what the rule would have done; `live` acts. A new rule
    /// is always created in `dry_run`: switch it live with a `PUT` that says `live`.
    #[schema(value_type = Option<ModeName>)]
    pub mode: Field,
    #[schema(value_type = ConditionBody)]
    pub condition: Field,
    #[schema(value_type = ActionBody)]
    pub action: Field,
}

/// Exactly one of `all` (every clause holds) and `any` (at least one does).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConditionBody {
    #[schema(value_type = Option<Vec<ClauseBody>>, min_items = 1, max_items = 50)]
    pub all: Field,
    #[schema(value_type = Option<Vec<ClauseBody>>, min_items = 1, max_items = 50)]
    pub any: Field,
}

/// One test: `field` is a lead field (`source`, `lead_type`, `email`, `title`, `score`,
/// `campaign`, `channel`, `queue`, `owner`, `first_name`, `last_name`, `phone`),
/// `company.<name|domain|size|industry|country|region>`, `attributes.<key>`, or a fact
/// (`duplicate_found`, `free_mail`, `account_accepted`). `value`: a string, number or boolean
/// for `eq`; a list of them for `in`; a regular expression for `matches`; a number for `lt`
/// and `gt`; `true` (the default) or `false` for `missing`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ClauseBody {
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub field: Field,
    #[schema(value_type = OpName)]
    pub op: Field,
    #[schema(value_type = Option<Value>)]
    pub value: Field,
}

/// What the rule does: `route` (to `queue` and/or `owner`), `reject` (with `code`),
/// `recycle` (with `reason`), `accept` (with `owner`, optionally `queue`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ActionBody {
    #[schema(value_type = ActionType)]
    pub r#type: Field,
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub queue: Field,
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub owner: Field,
    /// An active rejection code (not `other`, which needs a note).
    #[schema(value_type = Option<String>, schema_with = opt_key_schema)]
    pub code: Field,
    /// An active recycle reason.
    #[schema(value_type = Option<String>, schema_with = opt_key_schema)]
    pub reason: Field,
}

impl Rule {
    /// Parses a rule body; every bad member is named. A missing `mode` is `dry_run`.
    pub fn parse(body: &Value) -> Result<Rule, Vec<FieldError>> {
        let (
            RuleBody {
                name,
                position,
                mode,
                condition,
                action,
            },
            mut f,
        ) = Check::read(body)?;
        let name = f.req_str("name", name, 200);
        let position = parse_position(&mut f, position);
        let mode = parse_mode(&mut f, mode);
        let condition = parse_condition(&mut f, condition);
        let action = parse_action(&mut f, action);
        let rule = (|| {
            Some(Rule {
                name: name?,
                position: position?,
                mode: mode?,
                condition: condition?,
                action: action?,
            })
        })();
        f.done(rule)
    }
}

fn parse_position(f: &mut Check, v: Field) -> Option<i32> {
    match v.get() {
        None => {
            f.error("position", "is required");
            None
        }
        Some(Value::Number(n)) => match n.as_i64().filter(|p| (0..=MAX_POSITION).contains(p)) {
            Some(p) => i32::try_from(p).ok(),
            None => {
                f.error("position", "must be an integer from 0 to 1000000");
                None
            }
        },
        Some(_) => {
            f.error("position", "must be an integer from 0 to 1000000");
            None
        }
    }
}

fn parse_mode(f: &mut Check, v: Field) -> Option<Mode> {
    match v.get() {
        None => Some(Mode::DryRun),
        Some(Value::String(s)) if Mode::parse(s).is_some() => Mode::parse(s),
        Some(_) => {
            f.error("mode", "must be `dry_run` or `live`");
            None
        }
    }
}

fn parse_action(f: &mut Check, v: Field) -> Option<Action> {
    if v.get().is_none() {
        f.error("action", "is required");
        return None;
    }
    let (
        ActionBody {
            r#type,
            queue,
            owner,
            code,
            reason,
        },
        mut c,
    ) = f.child::<ActionBody>("action", v)?;
    let ty = match r#type.get() {
        None => {
            c.error("type", "is required");
            None
        }
        Some(v) => serde_json::from_value::<ActionType>(v.clone())
            .map_err(|_| c.error("type", "must be one of route, reject, recycle, accept"))
            .ok(),
    };
    let present = [
        ("queue", queue.get().is_some()),
        ("owner", owner.get().is_some()),
        ("code", code.get().is_some()),
        ("reason", reason.get().is_some()),
    ];
    let queue = c.opt_slug("queue", queue, SlugKind::Id);
    let owner = c.opt_slug("owner", owner, SlugKind::Id);
    let code = c.opt_slug("code", code, SlugKind::Key);
    let reason = c.opt_slug("reason", reason, SlugKind::Key);
    let uses: &[&str] = match ty {
        Some(ActionType::Route) => &["queue", "owner"],
        Some(ActionType::Reject) => &["code"],
        Some(ActionType::Recycle) => &["reason"],
        Some(ActionType::Accept) => &["owner", "queue"],
        None => &["queue", "owner", "code", "reason"],
    };
    for (key, given) in present {
        if given && !uses.contains(&key) {
            c.error(key, "is not used by this action type");
        }
    }
    let action = match ty {
        None => None,
        Some(ActionType::Route) if queue.is_none() && owner.is_none() => {
            c.error("queue", "a route action names a queue, an owner or both");
            None
        }
        Some(ActionType::Route) => Some(Action::Route { queue, owner }),
        Some(ActionType::Reject) => match code {
            Some(code) if code == "other" => {
                c.error("code", "a rule cannot reject with `other`: it needs a note");
                None
            }
            Some(code) => Some(Action::Reject { code }),
            None => {
                c.error("code", "a reject action needs a rejection code");
                None
            }
        },
        Some(ActionType::Recycle) => match reason {
            Some(reason) => Some(Action::Recycle { reason }),
            None => {
                c.error("reason", "a recycle action needs a recycle reason");
                None
            }
        },
        Some(ActionType::Accept) => match owner {
            Some(owner) => Some(Action::Accept { owner, queue }),
            None => {
                c.error(
                    "owner",
                    "an accept action needs an owner (the rep who works the lead)",
                );
                None
            }
        },
    };
    f.finish_child(c);
    action
}
