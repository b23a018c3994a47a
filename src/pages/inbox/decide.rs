//! `POST /app/leads/{id}/accept|reject|recycle` and `/touch`: the form becomes the API's JSON
//! body, read by the API's own parser, and goes to the same use case. A refused form shows the
//! lead page again (422) with each message at its field; a decision that lost to another one
//! (or a stale page) shows it again (409) saying who decided first and when.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use maud::{html, Markup};
use serde_json::Value;
use uuid::Uuid;

use super::{
    ago_text,
    lead::{lead_id, load, render, Submitted},
};
use crate::{
    domain::LeadState,
    http::AppState,
    pages::{
        form::{Errors, PageForm},
        PageError,
    },
    service,
    service::lead_bodies::{parse_decision, parse_touch},
};

/// The form's fields without the version it was read at (not a member of the API's body).
fn body_and_version(form: &PageForm) -> (Value, Option<String>) {
    let mut fields = form.fields.clone();
    let version = fields
        .remove("version")
        .and_then(|v| v.as_str().map(str::to_string));
    (Value::Object(fields), version)
}

fn see_other(to: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}

pub async fn decide(
    State(state): State<AppState>,
    Path((id, kind)): Path<(String, String)>,
    form: PageForm,
) -> Result<Response, PageError> {
    if !matches!(kind.as_str(), "accept" | "reject" | "recycle") {
        return Err(PageError::NotFound("no such action on a lead"));
    }
    let id = lead_id(&id)?;
    let (body, version) = body_and_version(&form);
    let decision = match parse_decision(&kind, &body) {
        Ok(d) => d,
        Err(list) => return refused(&state, &form, id, &kind, Errors::from_fields(list)).await,
    };
    let result = state
        .service
        .decide(&form.viewer.caller, id, &decision, version.as_deref())
        .await;
    match result {
        Ok(_) => Ok(see_other(format!("/app?done={kind}"))),
        Err(e) => failed(&state, &form, id, &kind, version, e).await,
    }
}

pub async fn touch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: PageForm,
) -> Result<Response, PageError> {
    let id = lead_id(&id)?;
    let (body, version) = body_and_version(&form);
    let now = state.service.clock.now();
    let (channel, at) = match parse_touch(&body, now) {
        Ok(t) => t,
        Err(list) => return refused(&state, &form, id, "touch", Errors::from_fields(list)).await,
    };
    match state
        .service
        .touch(&form.viewer.caller, id, &channel, at)
        .await
    {
        Ok(_) => Ok(see_other(format!("/app/leads/{id}?done=touch"))),
        Err(e) => failed(&state, &form, id, "touch", version, e).await,
    }
}

/// The lead page again with the form's messages, changing nothing.
async fn refused(
    state: &AppState,
    form: &PageForm,
    id: Uuid,
    kind: &str,
    errors: Errors,
) -> Result<Response, PageError> {
    let page = load(state, &form.viewer, id).await?;
    let submitted = Submitted {
        kind: kind.to_string(),
        errors,
        values: form.fields.clone(),
    };
    let markup = render(&form.viewer, &page, html! {}, &submitted);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, markup).into_response())
}

/// A refusal of the use case: a conflict (someone decided first, or the page was stale) is a
/// notice on the lead page, field errors go next to their fields, the rest is an error page.
async fn failed(
    state: &AppState,
    form: &PageForm,
    id: Uuid,
    kind: &str,
    version: Option<String>,
    e: service::Error,
) -> Result<Response, PageError> {
    use service::Error as S;
    let raced = match &e {
        S::Conflict { .. } | S::StaleVersion { .. } | S::InvalidTransition { .. } => true,
        // The other decision may have taken the lead out of this person's hands.
        S::Forbidden(_) => {
            let now = state.service.latest_decision(id).await?;
            version.is_some_and(|v| v != now.version.to_string())
        }
        _ => false,
    };
    if !raced {
        return refused(state, form, id, kind, Errors::from_service(e)?).await;
    }
    let notice = conflict_notice(state, id).await?;
    let page = match load(state, &form.viewer, id).await {
        Ok(page) => page,
        // No longer visible to this person: the notice alone says what happened.
        Err(PageError::Service(S::Forbidden(_))) => {
            let body = html! { (notice) p { a href="/app" { "Back to the inbox" } } };
            let markup = crate::pages::layout::page(
                Some(&form.viewer),
                "Lead",
                crate::pages::layout::Nav::Inbox,
                body,
            );
            return Ok((StatusCode::CONFLICT, markup).into_response());
        }
        Err(e) => return Err(e),
    };
    let markup = render(&form.viewer, &page, notice, &Submitted::default());
    Ok((StatusCode::CONFLICT, markup).into_response())
}

/// "Already accepted by rep-2 2 min ago", or that the lead changed since the page was opened.
async fn conflict_notice(state: &AppState, id: Uuid) -> Result<Markup, PageError> {
    let latest = state.service.latest_decision(id).await?;
    let now = state.service.clock.now();
    let verb = match latest.state {
        LeadState::Accepted => Some("accepted"),
        LeadState::Rejected => Some("rejected"),
        LeadState::Recycled => Some("recycled"),
        LeadState::Routed => None,
    };
    let text = match (verb, &latest.by, latest.at) {
        (Some(verb), Some(by), Some(at)) => {
            format!("Already {verb} by {by} {}.", ago_text(at, now))
        }
        (Some(verb), _, _) => format!("This lead was already {verb}."),
        (None, _, _) => {
            "This lead changed since you opened the page; look at it again before deciding."
                .to_string()
        }
    };
    Ok(html! {
        div.notice.error.conflict role="alert" {
            p { strong { (text) } " Nothing was changed by your form." }
        }
    })
}
