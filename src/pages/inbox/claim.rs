//! `POST /app/queues/{queue}/claim`: "Claim next" takes the most urgent unassigned lead of
//! the queue (`Service::claim`) and opens it; with nothing waiting, back to the inbox.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};

use crate::{
    http::AppState,
    pages::{form::PageForm, PageError},
};

pub async fn claim_next(
    State(state): State<AppState>,
    Path(queue): Path<String>,
    form: PageForm,
) -> Result<Response, PageError> {
    let claimed = state.service.claim(&form.viewer.caller, &queue).await?;
    let to = match claimed {
        Some(lead) => format!("/app/leads/{}?done=claim", lead.id),
        None => "/app?done=none".to_string(),
    };
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response())
}
