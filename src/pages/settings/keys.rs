//! API keys (admin): the list, make one (its token is shown on the answer page only), revoke.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use maud::{html, Markup};

use super::{admin, body, done, page, refusal, refused, select, text, when, Entered, Kind, Shown};
use crate::{
    db::api_keys::ApiKey,
    http::AppState,
    pages::{
        form::{csrf_input, form_error, Errors, PageForm},
        PageError, Viewer,
    },
    service::settings::keys::key_id,
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app/settings/keys", get(show).post(create))
        .route("/app/settings/keys/{id}/revoke", post(revoke))
}

const ROLES: &[&str] = &["sdr", "revops", "admin", "ingest"];

async fn render(
    state: &AppState,
    viewer: &Viewer,
    made: Option<(&ApiKey, &str)>,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let keys = state.service.api_keys().await?;
    let content = html! {
        @if let Some((key, token)) = made {
            div.notice.ok role="status" {
                p { "Key " strong { (key.name) } " made. Copy its token now: it is not shown again." }
                p { code #new-token { (token) } }
            }
        }
        (table(viewer, &keys))
        h2 { "Make a key" }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/keys" {
            (csrf_input(viewer))
            (select("role", "Role", ROLES, entered.get("role"), errors))
            (text("rep", "Rep (sdr keys only)", entered.get("rep"), errors))
            (text("name", "Name", entered.get("name"), errors))
            button type="submit" { "Make key" }
        }
    };
    Ok(page(viewer, "API keys", entered, content))
}

fn table(viewer: &Viewer, keys: &[ApiKey]) -> Markup {
    html! {
        table.settings-table {
            thead { tr { th { "Name" } th { "Role" } th { "Rep" } th { "Starts" } th { "Made" } th { "Status" } th { "" } } }
            tbody {
                @for k in keys {
                    tr data-key=(k.id) {
                        td { (k.name) }
                        td { (k.role) }
                        td { (k.rep_id.as_deref().unwrap_or("—")) }
                        td { code { (k.token_prefix) "…" } }
                        td { (when(k.created_at)) }
                        td.status { @if let Some(t) = k.revoked_at { "revoked " (when(t)) } @else { "active" } }
                        td {
                            @if k.revoked_at.is_none() {
                                form method="post" action=(format!("/app/settings/keys/{}/revoke", k.id)) {
                                    (csrf_input(viewer))
                                    button type="submit" aria-label=(format!("Revoke {}", k.name)) { "Revoke" }
                                }
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
    Query(q): Query<Shown>,
) -> Result<Markup, PageError> {
    admin(&viewer)?;
    let entered = Entered::default().with("role", "sdr").saved(&q);
    render(&state, &viewer, None, &entered, &Errors::none()).await
}

async fn create(State(state): State<AppState>, form: PageForm) -> Result<Response, PageError> {
    admin(&form.viewer)?;
    let fields = &[
        ("role", Kind::Text),
        ("rep", Kind::Text),
        ("name", Kind::Text),
    ];
    match state
        .service
        .create_api_key(&body(&form.fields, fields))
        .await
    {
        Ok((key, token)) => {
            let fresh = Entered::default().with("role", "sdr");
            let made = Some((&key, token.as_str()));
            let markup = render(&state, &form.viewer, made, &fresh, &Errors::none()).await?;
            Ok(markup.into_response())
        }
        Err(e) => {
            let errors = refusal(e)?;
            let entered = Entered::of(&form.fields);
            let markup = render(&state, &form.viewer, None, &entered, &errors).await?;
            Ok(refused(markup))
        }
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: PageForm,
) -> Result<Response, PageError> {
    admin(&form.viewer)?;
    state.service.revoke_api_key(key_id(&id)?).await?;
    // As the API does: this replica forgets the keys it knew at once.
    state.keys.clear();
    Ok(done("/app/settings/keys"))
}
