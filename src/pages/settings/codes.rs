//! Rejection codes and recycle reasons: the list, add one, retire or restore one.

use axum::{
    extract::{Path, Query, State},
    response::Response,
    routing::{get, post},
    Router,
};
use maud::{html, Markup};
use serde_json::json;

use super::{body, page, revops, saved_or_refused, text, when, Entered, Kind, Shown};
use crate::{
    db::reason_codes::{ReasonCode, ReasonKind},
    http::AppState,
    pages::{
        form::{csrf_input, form_error, Errors, PageForm},
        PageError, Viewer,
    },
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings/{kinds}", get(show).post(add))
        .route("/app/settings/{kinds}/{code}/{change}", post(change))
}

/// The kind of a path segment, and the page's title.
fn kind_of(kinds: &str) -> Result<(ReasonKind, &'static str), PageError> {
    match kinds {
        "rejection-codes" => Ok((ReasonKind::Rejection, "Rejection codes")),
        "recycle-reasons" => Ok((ReasonKind::Recycle, "Recycle reasons")),
        _ => Err(PageError::NotFound("no such settings page")),
    }
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    kinds: &str,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let (kind, title) = kind_of(kinds)?;
    let codes = state.service.reason_codes(kind).await?;
    let content = html! {
        (table(viewer, kinds, &codes))
        h2 { "Add one" }
        (form_error(errors))
        form.settings-form method="post" action=(format!("/app/settings/{kinds}")) {
            (csrf_input(viewer))
            (text("code", "Code (lowercase letters, digits, _-.)", entered.get("code"), errors))
            (text("label", "Label", entered.get("label"), errors))
            button type="submit" { "Add" }
        }
    };
    Ok(page(viewer, title, entered, content))
}

fn table(viewer: &Viewer, kinds: &str, codes: &[ReasonCode]) -> Markup {
    html! {
        table.settings-table {
            thead { tr { th { "Code" } th { "Label" } th { "Status" } th { "Changed" } th { "" } } }
            tbody {
                @for c in codes {
                    tr data-code=(c.code) {
                        td { code { (c.code) } }
                        td { (c.label) }
                        td { @if c.active { "active" } @else { "retired" } }
                        td { (when(c.updated_at)) }
                        td {
                            @let change = if c.active { "retire" } else { "restore" };
                            form method="post" action=(format!("/app/settings/{kinds}/{}/{change}", c.code)) {
                                (csrf_input(viewer))
                                button type="submit" aria-label=(format!("{} {}", if c.active { "Retire" } else { "Restore" }, c.code)) { @if c.active { "Retire" } @else { "Restore" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(kinds): Path<String>,
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    revops(&viewer)?;
    render(
        &state,
        &viewer,
        &kinds,
        &Entered::default().saved(&q),
        &Errors::none(),
    )
    .await
}

async fn add(
    State(state): State<AppState>,
    Path(kinds): Path<String>,
    form: PageForm,
) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let (kind, _) = kind_of(&kinds)?;
    let body = body(&form.fields, &[("code", Kind::Text), ("label", Kind::Text)]);
    let result = state.service.create_reason_code(kind, &body).await;
    let (state, form, page) = (&state, &form, format!("/app/settings/{kinds}"));
    saved_or_refused(result, &page, |errors| async move {
        render(
            state,
            &form.viewer,
            &kinds,
            &Entered::of(&form.fields),
            &errors,
        )
        .await
    })
    .await
}

async fn change(
    State(state): State<AppState>,
    Path((kinds, code, change)): Path<(String, String, String)>,
    form: PageForm,
) -> Result<Response, PageError> {
    revops(&form.viewer)?;
    let (kind, _) = kind_of(&kinds)?;
    let active = match change.as_str() {
        "retire" => false,
        "restore" => true,
        _ => return Err(PageError::NotFound("no such change")),
    };
    let body = json!({ "active": active });
    let result = state.service.update_reason_code(kind, &code, &body).await;
    let (state, form, page) = (&state, &form, format!("/app/settings/{kinds}"));
    saved_or_refused(result, &page, |errors| async move {
        render(state, &form.viewer, &kinds, &Entered::default(), &errors).await
    })
    .await
}
