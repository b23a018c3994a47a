//! Signed ingest (docs/api.md §7): sources in `SALGATE_INBOUND_SECRETS` sign `POST /v1/leads` (and
//! any batch holding one of their leads) with `Salgate-Signature`, as outbound webhooks are
//! signed. A signature is good once: replays are keyed on (source, t, decoded MAC), so no
//! spelling of the header gets a second use.

use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};

use super::{error::ApiError, AppState};
use crate::domain::signature::{self, SignatureError};

/// How far the signed timestamp may be from now.
pub const TOLERANCE: Duration = Duration::seconds(300);

fn refused(code: &'static str, detail: &'static str) -> ApiError {
    ApiError::BadSignature { code, detail }
}

/// Checks the request's signature for `source` (signed with `secret`) over `raw`, and records
/// it so that it cannot be used again.
pub async fn check(
    state: &AppState,
    source: &str,
    secret: &str,
    headers: &HeaderMap,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let given = headers
        .get("salgate-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(refused(
            "signature_required",
            "this source must sign its requests with Salgate-Signature",
        ))?;
    let sig = signature::verify(secret, given, raw, now, TOLERANCE).map_err(|e| match e {
        SignatureError::Malformed => refused(
            "signature_malformed",
            "Salgate-Signature must be exactly t=<unix seconds>,v1=<64 lowercase hex digits>",
        ),
        SignatureError::Stale => refused(
            "signature_expired",
            "Salgate-Signature is more than 300 s from the current time",
        ),
        SignatureError::Mismatch => refused(
            "signature_mismatch",
            "Salgate-Signature does not match the body and this source's secret",
        ),
    })?;
    first_seen(state, source, &sig, now).await
}

/// Remembers `sig` as received for `source` (`signature_replayed` when it was before): every
/// signed request here, ingest's and Slack's, is good once.
pub async fn first_seen(
    state: &AppState,
    source: &str,
    sig: &signature::Signature,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let fresh =
        crate::db::inbound_signatures::remember(&state.db, source, sig.t, &sig.mac, now).await?;
    if fresh {
        Ok(())
    } else {
        Err(refused(
            "signature_replayed",
            "this signed request was already received",
        ))
    }
}

/// A batch holding a lead of a signed source must itself be signed for that source (else a
/// batch would be a way around the signature). Several signed sources in one batch need one
/// secret between them; different secrets are refused with 422 (send them separately).
pub async fn check_batch(
    state: &AppState,
    items: &[&serde_json::value::RawValue],
    headers: &HeaderMap,
    raw: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    /// Only an item's `source`, read from its text without building its JSON tree.
    #[derive(serde::Deserialize)]
    struct Source<'a> {
        #[serde(borrow)]
        source: Option<std::borrow::Cow<'a, str>>,
    }
    let mut signed = std::collections::BTreeMap::new();
    for item in items {
        let Ok(Source {
            source: Some(source),
        }) = serde_json::from_str::<Source>(item.get())
        else {
            continue; // not an object with a string source: the item fails validation alone
        };
        // Trimmed as lead validation trims it, so no spelling of a source escapes its secret.
        if let Some((source, secret)) = state.inbound_secrets.get_key_value(source.trim()) {
            signed.insert(source.as_str(), secret.as_str());
        }
    }
    let Some((&source, &secret)) = signed.iter().next() else {
        return Ok(());
    };
    if signed.values().any(|s| *s != secret) {
        return Err(ApiError::Validation(vec![
            crate::domain::validation::FieldError {
                field: "leads".into(),
                message: "holds leads of signed sources with different secrets; \
                          send each source's leads in a batch signed with its secret"
                    .into(),
            },
        ]));
    }
    check(state, source, secret, headers, raw, now).await
}
