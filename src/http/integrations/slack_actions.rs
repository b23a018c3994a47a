//! What a Slack click or modal submission does: Accept decides at once; Reject… and
//! Recycle… open a modal (`views.open`) listing the live codes, whose submission decides.
//! Every decision is the API's (`Service::decide_from_slack`). Slack gets its answer within
//! 3 s: the decision is made before answering (it is one guarded statement), the message
//! update (`chat.update`) and ephemeral replies (`response_url`) after.

use std::sync::Arc;

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{
    db::reason_codes::ReasonKind,
    domain::Command,
    http::AppState,
    notify::slack::{
        blocks::{self, ModalContext, Target},
        Slack,
    },
    service::{slack::FromSlack, Decision, Error},
    views::lead::Lead,
};

/// The answer to Slack's request.
pub enum Ack {
    /// 200 with no body: received (a modal closes).
    Empty,
    /// 200 with a JSON body (a modal's `response_action`).
    Json(Value),
}

impl IntoResponse for Ack {
    fn into_response(self) -> Response {
        match self {
            Ack::Empty => ().into_response(),
            Ack::Json(v) => Json(v).into_response(),
        }
    }
}

const UNMAPPED: &str = "Your Slack account is not linked to a salgate rep, so nothing changed. \
                        Ask RevOps to set your Slack user id on your rep.";

/// A button click on a notification.
pub async fn block_actions(state: &AppState, slack: &Arc<Slack>, payload: &Value) -> Ack {
    let action = &payload["actions"][0];
    let user = payload["user"]["id"].as_str().unwrap_or("");
    let response_url = payload["response_url"].as_str().map(str::to_string);
    let target = action["value"].as_str().and_then(Target::parse);
    let (Some(target), false) = (target, user.is_empty()) else {
        return Ack::Empty; // not one of our buttons (or Open, which only links)
    };
    let message = MessageRef::of(payload);
    match action["action_id"].as_str() {
        Some(blocks::ACCEPT) => {
            let decision = decision(Command::Accept, None);
            let outcome = state
                .service
                .decide_from_slack(user, target.lead, target.cycle, &decision)
                .await;
            settle(slack, state.clock.now(), outcome, message, response_url);
        }
        Some(kind @ (blocks::REJECT | blocks::RECYCLE)) => {
            let trigger = payload["trigger_id"].as_str().unwrap_or("");
            let opened = open_modal(
                state,
                slack,
                user,
                kind == blocks::RECYCLE,
                trigger,
                target,
                message,
            )
            .await;
            if let Err(text) = opened {
                reply(slack, response_url, text);
            }
        }
        _ => {}
    }
    Ack::Empty
}

/// A Reject or Recycle modal submitted.
pub async fn view_submission(state: &AppState, slack: &Arc<Slack>, payload: &Value) -> Ack {
    let view = &payload["view"];
    let recycle = match view["callback_id"].as_str() {
        Some(blocks::REJECT_VIEW) => false,
        Some(blocks::RECYCLE_VIEW) => true,
        _ => return Ack::Empty,
    };
    let user = payload["user"]["id"].as_str().unwrap_or("");
    let ctx = view["private_metadata"]
        .as_str()
        .and_then(|m| serde_json::from_str::<ModalContext>(m).ok());
    let Some(ctx) = ctx else {
        return errors(
            blocks::CODE_BLOCK,
            "This form is out of date; nothing changed.",
        );
    };
    let (code, note) = blocks::submitted(&view["state"]["values"]);
    let Some(code) = code else {
        return errors(blocks::CODE_BLOCK, "Choose one.");
    };
    let command = if recycle {
        Command::Recycle {
            reason: code,
            note: note.clone(),
        }
    } else {
        Command::Reject {
            code,
            note: note.clone(),
        }
    };
    let outcome = state
        .service
        .decide_from_slack(user, ctx.lead, ctx.cycle, &decision(command, note))
        .await;
    let message = MessageRef {
        channel: ctx.channel,
        ts: ctx.ts,
    };
    match outcome {
        Ok(FromSlack::Decided { lead, rep }) => {
            update_message(slack, &lead, &rep.name, message, state.clock.now());
            Ack::Empty
        }
        Ok(FromSlack::Unmapped) => errors(blocks::CODE_BLOCK, UNMAPPED),
        Ok(FromSlack::OtherCycle { .. }) => errors(blocks::CODE_BLOCK, OTHER_CYCLE),
        Err(e) => {
            let (block, text) = refusal(&e);
            errors(block, &text)
        }
    }
}

fn decision(command: Command, note: Option<String>) -> Decision {
    Decision {
        command,
        note,
        next_action: None,
        on_behalf_of: None,
        duplicate_of: None,
    }
}

/// The notification message a click came from.
#[derive(Debug, Clone, Default)]
struct MessageRef {
    channel: Option<String>,
    ts: Option<String>,
}

impl MessageRef {
    fn of(payload: &Value) -> MessageRef {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let container = &payload["container"];
        MessageRef {
            channel: text(&container["channel_id"]).or_else(|| text(&payload["channel"]["id"])),
            ts: text(&container["message_ts"]).or_else(|| text(&payload["message"]["ts"])),
        }
    }
}

const OTHER_CYCLE: &str = "This message is about an earlier routing of this lead; nothing changed.";

/// After an Accept: the message shows the outcome, or the clicker alone hears why not.
fn settle(
    slack: &Arc<Slack>,
    now: DateTime<Utc>,
    outcome: Result<FromSlack, Error>,
    message: MessageRef,
    response_url: Option<String>,
) {
    match outcome {
        Ok(FromSlack::Decided { lead, rep }) => {
            update_message(slack, &lead, &rep.name, message, now)
        }
        Ok(FromSlack::Unmapped) => reply(slack, response_url, UNMAPPED.to_string()),
        Ok(FromSlack::OtherCycle { .. }) => reply(slack, response_url, OTHER_CYCLE.to_string()),
        Err(e) => reply(slack, response_url, refusal(&e).1),
    }
}

/// Opens the Reject… or Recycle… modal for a mapped user (at once: the trigger id lives 3 s).
/// The error is the text to tell the user.
async fn open_modal(
    state: &AppState,
    slack: &Arc<Slack>,
    user: &str,
    recycle: bool,
    trigger: &str,
    target: Target,
    message: MessageRef,
) -> Result<(), String> {
    let failed = |e: Error| refusal(&e).1;
    // A placeholder code: only who may decide, and from which state, is checked here.
    let command = if recycle {
        Command::Recycle {
            reason: String::new(),
            note: Some("-".into()),
        }
    } else {
        Command::Reject {
            code: String::new(),
            note: Some("-".into()),
        }
    };
    let check = state
        .service
        .check_from_slack(user, target.lead, target.cycle, &command)
        .await
        .map_err(failed)?;
    match check {
        None => {}
        Some(FromSlack::Unmapped) => return Err(UNMAPPED.to_string()),
        Some(_) => return Err(OTHER_CYCLE.to_string()),
    }
    let kind = if recycle {
        ReasonKind::Recycle
    } else {
        ReasonKind::Rejection
    };
    let codes = state.service.live_codes(kind).await.map_err(failed)?;
    if codes.is_empty() {
        return Err(format!(
            "There are no active {} codes; ask RevOps to add one.",
            kind.as_str()
        ));
    }
    let ctx = ModalContext {
        lead: target.lead,
        cycle: target.cycle,
        channel: message.channel,
        ts: message.ts,
    };
    let body = json!({"trigger_id": trigger, "view": blocks::modal(recycle, &codes, &ctx)});
    slack
        .api
        .call("views.open", &body)
        .await
        .map(|_| ())
        .map_err(|e| {
            tracing::warn!(error = %e, "slack: views.open failed");
            "The form could not be opened; nothing changed. Try again.".to_string()
        })
}

/// Replaces the notification's buttons with the outcome, after the ack.
fn update_message(
    slack: &Arc<Slack>,
    lead: &Lead,
    by: &str,
    message: MessageRef,
    now: DateTime<Utc>,
) {
    let (Some(channel), Some(ts)) = (message.channel, message.ts) else {
        return;
    };
    let (outcome, at) = match (&lead.accepted_at, &lead.rejected_at, &lead.recycled_at) {
        (Some(at), ..) if lead.state == crate::domain::LeadState::Accepted => {
            ("Accepted".to_string(), *at)
        }
        (_, Some(at), _) if lead.state == crate::domain::LeadState::Rejected => (
            format!(
                "Rejected ({})",
                lead.rejection_code.as_deref().unwrap_or("")
            ),
            *at,
        ),
        (.., Some(at)) => (
            format!(
                "Recycled ({})",
                lead.recycle_reason.as_deref().unwrap_or("")
            ),
            *at,
        ),
        _ => ("Decided".to_string(), now),
    };
    let mut body = blocks::decided(
        &outcome,
        by,
        at,
        &blocks::lead_summary(lead),
        &slack.lead_url(lead.id),
    );
    body["channel"] = json!(channel);
    body["ts"] = json!(ts);
    let api = slack.api.clone();
    slack.after_ack("chat.update", async move {
        api.call("chat.update", &body).await.map(|_| ())
    });
}

/// Tells only the clicking user `text`, through the interaction's `response_url`.
fn reply(slack: &Arc<Slack>, response_url: Option<String>, text: String) {
    let Some(url) = response_url else {
        return;
    };
    let api = slack.api.clone();
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    slack.after_ack("the ephemeral reply", async move {
        api.respond(&url, &body).await
    });
}

/// A modal's refusal, shown at `block`.
fn errors(block: &str, text: &str) -> Ack {
    Ack::Json(json!({"response_action": "errors", "errors": {block: text}}))
}

/// Why a decision was refused, in the words a rep reads in Slack, and the modal block it
/// belongs to.
fn refusal(e: &Error) -> (&'static str, String) {
    let code = blocks::CODE_BLOCK;
    match e {
        Error::Forbidden(_) => (
            code,
            "This lead is assigned to someone else, so you cannot decide it; nothing changed."
                .into(),
        ),
        Error::InvalidTransition { from, .. } => (
            code,
            format!("This lead is already {from}; nothing changed."),
        ),
        Error::StaleVersion { .. } | Error::Conflict { .. } => (
            code,
            "This lead was changed at the same moment (already decided?); nothing changed.".into(),
        ),
        Error::NotFound(_) => (code, "This lead no longer exists; nothing changed.".into()),
        Error::UnknownCode { detail, .. } => (code, format!("{detail}; nothing changed.")),
        Error::Validation(list) => {
            let block = if list.iter().any(|f| f.field == "note") {
                blocks::NOTE_BLOCK
            } else {
                code
            };
            let text = list
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            (block, text)
        }
        Error::Unavailable(_) | Error::Internal(_) => {
            tracing::error!(error = %e, "slack: a decision failed");
            (
                code,
                "salgate could not record this just now; nothing changed. Try again in a moment."
                    .into(),
            )
        }
    }
}
