//! `POST /v1/integrations/slack/interactions`: Slack's interactivity requests (button clicks,
//! modal submissions), form-encoded `payload=<JSON>`. Authenticated by Slack's v0 signature
//! (`SALGATE_SLACK_SIGNING_SECRET`, 300 s tolerance, constant-time); a signature is good once
//! (remembered as signed ingest's are). A refused request is 401 problem+json and changes
//! nothing. What a click does is in `slack_actions.rs`.

use axum::{
    body::{to_bytes, Body},
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{super::error::Problem, slack_actions};
use crate::{
    domain::slack_signature::{self, SignatureError},
    http::{
        error::ApiError,
        error::ApiResult,
        inbound_signature::{self, TOLERANCE},
        AppState,
    },
    notify::slack::Slack,
};

/// Largest interaction accepted: a click carries the whole message, a submission the whole
/// modal; both stay far below this.
pub const BODY_LIMIT: usize = 256 * 1024;

/// How signatures of Slack's requests are keyed among those remembered (no lead source can
/// be spelled with a colon, so none shares it).
const REPLAY_SOURCE: &str = "integration:slack";

/// Receive a Slack interaction (no API key: Slack's signature authenticates it).
///
/// `block_actions` (the Accept, Reject…, Recycle… buttons) and `view_submission` (the
/// Reject and Recycle modals) decide as the rep whose `slack_user_id` is the clicking user,
/// under the API's rules; anything else is acknowledged and ignored. Answers within Slack's
/// 3 s; the message is updated after the answer.
/// The form Slack posts (documentation only: the handler reads the raw body, which the
/// signature covers).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SlackInteractionForm {
    /// The interaction payload as JSON (`block_actions`, `view_submission`).
    payload: String,
}

#[utoipa::path(post, path = "/v1/integrations/slack/interactions", tag = "integrations",
    request_body(content = SlackInteractionForm, content_type = "application/x-www-form-urlencoded",
        description = "`payload=<JSON interaction payload>`, signed with X-Slack-Signature"),
    responses(
        (status = 200, description = "acknowledged; a refused modal submission gets `response_action: errors`"),
        (status = 400, body = Problem, content_type = "application/problem+json", description = "no readable payload"),
        (status = 401, body = Problem, content_type = "application/problem+json", description = "missing, malformed, stale, wrong or replayed signature; nothing changed"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "not enabled"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn receive_slack_interaction(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let Some(slack) = state.slack.clone() else {
        return Err(ApiError::NotFound(
            "the Slack integration is not enabled (SALGATE_SLACK_SIGNING_SECRET)",
        ));
    };
    let raw = to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(BODY_LIMIT))?;
    let now = state.clock.now();
    verify(&state, &slack, &headers, &raw, now).await?;
    let payload = payload(&raw)?;
    let answer = match payload["type"].as_str() {
        Some("block_actions") => slack_actions::block_actions(&state, &slack, &payload).await,
        Some("view_submission") => slack_actions::view_submission(&state, &slack, &payload).await,
        _ => slack_actions::Ack::Empty,
    };
    Ok(answer.into_response())
}

/// The JSON of the form's `payload` field.
fn payload(raw: &[u8]) -> ApiResult<Value> {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(raw)
        .map_err(|e| ApiError::MalformedJson(format!("expected a form with payload=: {e}")))?;
    let json = fields
        .into_iter()
        .find_map(|(k, v)| (k == "payload").then_some(v))
        .ok_or_else(|| ApiError::MalformedJson("the form has no payload field".into()))?;
    serde_json::from_str(&json).map_err(|e| ApiError::MalformedJson(format!("payload: {e}")))
}

fn refused(code: &'static str, detail: &'static str) -> ApiError {
    ApiError::BadSignature { code, detail }
}

/// Refuses a request without a fresh, matching, first-seen v0 signature.
async fn verify(
    state: &AppState,
    slack: &Slack,
    headers: &HeaderMap,
    raw: &[u8],
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return Err(refused(
            "signature_required",
            "Slack requests carry X-Slack-Request-Timestamp and X-Slack-Signature",
        ));
    };
    let secret = &slack.signing_secret;
    let sig = slack_signature::verify(secret, timestamp, signature, raw, now, TOLERANCE).map_err(
        |e| match e {
            SignatureError::Malformed => refused(
                "signature_malformed",
                "X-Slack-Signature must be v0=<64 lowercase hex digits> and the timestamp \
                 unix seconds",
            ),
            SignatureError::Stale => refused(
                "signature_expired",
                "X-Slack-Request-Timestamp is more than 300 s from the current time",
            ),
            SignatureError::Mismatch => refused(
                "signature_mismatch",
                "X-Slack-Signature does not match the body and the signing secret",
            ),
        },
    )?;
    inbound_signature::first_seen(state, REPLAY_SOURCE, &sig, now).await
}
