//! Bodies of the decision, touch and assign routes of `/v1/leads/{id}`, read as
//! `domain::body` describes. Here, not at the HTTP edge, because the lead page's forms are read
//! by the same parsers (`src/pages/inbox/decide.rs`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    domain::{
        body::{Check, Field},
        lead_input::MAX_ROUTED_AT_SKEW,
        slug::{key_schema, opt_id_schema},
        validation::{FieldError, SlugKind},
        Command,
    },
    service::Assignment,
};

/// Body of `accept`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptInput {
    #[schema(value_type = Option<String>)]
    pub note: Field,
    /// What the rep will do next, e.g. "call Tuesday".
    #[schema(value_type = Option<String>)]
    pub next_action: Field,
    /// Rep the decision is for (revops/admin keys only; required for them).
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub on_behalf_of: Field,
}

/// Body of `reject`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectInput {
    /// An active rejection code; `other` needs a note.
    #[schema(value_type = String)]
    pub code: Field,
    #[schema(value_type = Option<String>)]
    pub note: Field,
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub on_behalf_of: Field,
    /// With code `duplicate`: the id of the lead this one duplicates.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub duplicate_of: Field,
}

/// Body of `recycle`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RecycleInput {
    /// An active recycle reason.
    #[schema(value_type = String)]
    pub reason: Field,
    /// Required when recycling an accepted lead.
    #[schema(value_type = Option<String>)]
    pub note: Field,
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub on_behalf_of: Field,
}

/// A decision request after parsing: the use case's own input.
pub use crate::service::Decision as DecisionInput;

/// The body of the decision `kind` (`accept`, `reject`, anything else: `recycle`).
pub fn parse_decision(kind: &str, body: &Value) -> Result<DecisionInput, Vec<FieldError>> {
    match kind {
        "accept" => {
            let (input, mut f) = Check::read::<AcceptInput>(body)?;
            let AcceptInput {
                note,
                next_action,
                on_behalf_of,
            } = input;
            let (note, on_behalf_of) = note_and_rep(&mut f, note, on_behalf_of);
            let next_action = f.opt_str("next_action", next_action, 500);
            f.done(Some(DecisionInput {
                command: Command::Accept,
                note,
                next_action,
                on_behalf_of,
                duplicate_of: None,
            }))
        }
        "reject" => {
            let (input, mut f) = Check::read::<RejectInput>(body)?;
            let RejectInput {
                code,
                note,
                on_behalf_of,
                duplicate_of,
            } = input;
            let (note, on_behalf_of) = note_and_rep(&mut f, note, on_behalf_of);
            let code = f.req_str("code", code, 64);
            let duplicate_of = duplicate_of_field(&mut f, duplicate_of, code.as_deref());
            let command = code.map(|code| Command::Reject {
                code,
                note: note.clone(),
            });
            f.done(command.map(|command| DecisionInput {
                duplicate_of,
                ..decision(command, note, on_behalf_of)
            }))
        }
        _ => {
            let (input, mut f) = Check::read::<RecycleInput>(body)?;
            let RecycleInput {
                reason,
                note,
                on_behalf_of,
            } = input;
            let (note, on_behalf_of) = note_and_rep(&mut f, note, on_behalf_of);
            let reason = f.req_str("reason", reason, 64);
            let command = reason.map(|reason| Command::Recycle {
                reason,
                note: note.clone(),
            });
            f.done(command.map(|command| decision(command, note, on_behalf_of)))
        }
    }
}

/// A reject's `duplicate_of`: a lead id, and only with code `duplicate`.
fn duplicate_of_field(f: &mut Check, v: Field, code: Option<&str>) -> Option<uuid::Uuid> {
    let raw = f.opt_str("duplicate_of", v, 36)?;
    let Ok(id) = raw.parse::<uuid::Uuid>() else {
        f.error("duplicate_of", "must be a lead id (a UUID)");
        return None;
    };
    if code.is_some_and(|c| c != "duplicate") {
        f.error("duplicate_of", "is only given with code `duplicate`");
        return None;
    }
    Some(id)
}

/// The members every decision has, checked first (their errors come first).
fn note_and_rep(f: &mut Check, note: Field, rep: Field) -> (Option<String>, Option<String>) {
    let note = f.opt_str("note", note, 2000);
    (note, f.opt_slug("on_behalf_of", rep, SlugKind::Id))
}

fn decision(command: Command, note: Option<String>, rep: Option<String>) -> DecisionInput {
    DecisionInput {
        command,
        note,
        next_action: None,
        on_behalf_of: rep,
        duplicate_of: None,
    }
}

/// Body of `touches`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TouchInput {
    /// How the rep reached out: `call`, `email`, `linkedin`, `meeting`, … (lowercase slug).
    #[schema(value_type = String, schema_with = key_schema)]
    pub channel: Field,
    /// When it happened (default now; not before the cycle was routed, not in the future).
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub at: Field,
}

/// The channel and time of a touch logged at `now`.
pub fn parse_touch(
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), Vec<FieldError>> {
    let (TouchInput { channel, at }, mut f) = Check::read(body)?;
    let channel = f.req_slug("channel", channel, SlugKind::Key);
    let at = match at.get() {
        None => Some(now),
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) if t.with_timezone(&Utc) > now + MAX_ROUTED_AT_SKEW => {
                f.error("at", "must not be in the future");
                None
            }
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                f.error("at", "must be an RFC 3339 time like 2026-01-31T09:00:00Z");
                None
            }
        },
        Some(_) => {
            f.error("at", "must be an RFC 3339 time string");
            None
        }
    };
    f.done(channel.zip(at))
}

/// Body of `assign`: exactly one of `owner` and `queue`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignInput {
    /// Give the lead to this rep (registered if salgate has never seen it).
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub owner: Field,
    /// Move the lead to this queue; its strategy picks the owner (none for `claim`).
    #[schema(value_type = Option<String>, schema_with = opt_id_schema)]
    pub queue: Field,
}

/// The new owner or queue of an assignment (exactly one is given).
pub fn parse_assign(body: &Value) -> Result<Assignment, Vec<FieldError>> {
    let (AssignInput { owner, queue }, mut f) = Check::read(body)?;
    let owner = f.opt_slug("owner", owner, SlugKind::Id);
    let queue = f.opt_slug("queue", queue, SlugKind::Id);
    if f.errors.is_empty() && owner.is_some() == queue.is_some() {
        f.error("owner", "give exactly one of owner and queue");
    }
    let to = match (owner, queue) {
        (Some(owner), None) => Some(Assignment::Owner(owner)),
        (None, Some(queue)) => Some(Assignment::Queue(queue)),
        _ => None,
    };
    f.done(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn each_decision_knows_only_its_own_members() {
        let e = parse_decision("accept", &json!({"code": "x", "note": 1})).err();
        assert_eq!(e.map(fields), Some(vec!["note".into(), "code".into()]));
        let e = parse_decision("reject", &json!({"next_action": "x"})).err();
        assert_eq!(
            e.map(fields),
            Some(vec!["code".into(), "next_action".into()])
        );
        let d = parse_decision("recycle", &json!({"reason": "nurture", "note": "n"}));
        assert!(d.is_ok_and(|d| d.note.as_deref() == Some("n")));
    }
}
