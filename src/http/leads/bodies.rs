//! The request bodies of the lead operations: the structs document them in the OpenAPI
//! document; `parse_decision` (and the handlers' `Fields` parsers) read them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::{
    slug::opt_id_schema,
    validation::{FieldError, Fields, SlugKind},
    Command,
};

/// Body of `accept`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AcceptInput {
    pub note: Option<String>,
    /// What the rep will do next, e.g. "call Tuesday".
    pub next_action: Option<String>,
    /// Rep the decision is for (revops/admin keys only; required for them).
    #[schema(schema_with = opt_id_schema)]
    pub on_behalf_of: Option<String>,
}

/// Body of `reject`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RejectInput {
    /// An active rejection code; `other` needs a note.
    pub code: String,
    pub note: Option<String>,
    #[schema(schema_with = opt_id_schema)]
    pub on_behalf_of: Option<String>,
}

/// Body of `recycle`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RecycleInput {
    /// An active recycle reason.
    pub reason: String,
    /// Required when recycling an accepted lead.
    pub note: Option<String>,
    #[schema(schema_with = opt_id_schema)]
    pub on_behalf_of: Option<String>,
}

/// A decision request after parsing: the use case's input.
pub use crate::service::Decision as DecisionInput;

pub fn parse_decision(kind: &str, body: &Value) -> Result<DecisionInput, Vec<FieldError>> {
    let mut f = Fields::root(body)?;
    let note = f.opt_str("note", 2000);
    let on_behalf_of = f.opt_slug("on_behalf_of", SlugKind::Id);
    let (command, next_action) = match kind {
        "accept" => (Some(Command::Accept), f.opt_str("next_action", 500)),
        "reject" => (
            f.req_str("code", 64).map(|code| Command::Reject {
                code,
                note: note.clone(),
            }),
            None,
        ),
        _ => (
            f.req_str("reason", 64).map(|reason| Command::Recycle {
                reason,
                note: note.clone(),
            }),
            None,
        ),
    };
    let errors = f.finish();
    match command {
        Some(command) if errors.is_empty() => Ok(DecisionInput {
            command,
            note,
            next_action,
            on_behalf_of,
        }),
        _ => Err(errors),
    }
}

/// Body of `touches`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TouchInput {
    /// How the rep reached out: `call`, `email`, `linkedin`, `meeting`, … (lowercase slug).
    #[schema(schema_with = crate::domain::slug::key_schema)]
    pub channel: String,
    /// When it happened (default now; not before the cycle was routed, not in the future).
    pub at: Option<DateTime<Utc>>,
}

/// Body of `assign`: exactly one of `owner` and `queue`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct AssignInput {
    /// Give the lead to this rep (registered if salgate has never seen it).
    #[schema(schema_with = opt_id_schema)]
    pub owner: Option<String>,
    /// Move the lead to this queue; its strategy picks the owner (none for `claim`).
    #[schema(schema_with = opt_id_schema)]
    pub queue: Option<String>,
}
