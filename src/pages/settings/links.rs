//! Sign-in links (admin): make one for a role (and a rep, for an sdr), shown in full on the
//! answer page only; the recent ones with whether they were used or have expired.

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use maud::{html, Markup};

use super::{admin, page, refusal, refused, select, text, when, Entered, Shown};
use crate::{
    db::sessions::SignInLink,
    domain::Role,
    http::AppState,
    pages::{
        form::{csrf_input, form_error, Errors, PageForm},
        PageError, Viewer,
    },
    service::Error,
};

/// The routes of this settings page.
pub fn router() -> Router<AppState> {
    Router::new().route("/app/settings/links", get(show).post(create))
}

const ROLES: &[&str] = &["sdr", "revops", "admin"];

async fn render(
    state: &AppState,
    viewer: &Viewer,
    made: Option<&str>,
    entered: &Entered,
    errors: &Errors,
) -> Result<Markup, PageError> {
    let links = state.service.recent_sign_in_links().await?;
    let now = state.service.clock.now();
    let content = html! {
        @if let Some(url) = made {
            div.notice.ok role="status" {
                p { "Send this link to the person; it signs in once and is not shown again." }
                p { a #new-link href=(url) { (url) } }
            }
        }
        h2 { "Make a sign-in link" }
        (form_error(errors))
        form.settings-form method="post" action="/app/settings/links" {
            (csrf_input(viewer))
            (select("role", "Role", ROLES, entered.get("role"), errors))
            (text("rep", "Rep (sdr only)", entered.get("rep"), errors))
            button type="submit" { "Make link" }
        }
        h2 { "Recent links" }
        (table(&links, now))
    };
    Ok(page(viewer, "Sign-in links", entered, content))
}

fn table(links: &[SignInLink], now: chrono::DateTime<chrono::Utc>) -> Markup {
    html! {
        table.settings-table {
            thead { tr { th { "For" } th { "Made by" } th { "Made" } th { "Status" } } }
            tbody {
                @for l in links {
                    tr {
                        td { (l.role) @if let Some(rep) = &l.rep_id { " " code { (rep) } } }
                        td { (l.created_by) }
                        td { (when(l.created_at)) }
                        td.status {
                            @if let Some(t) = l.used_at { "used " (when(t)) }
                            @else if l.expires_at <= now { "expired" }
                            @else { "open until " (when(l.expires_at)) }
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
    let made = match form.text("role").and_then(Role::parse) {
        Some(role) => {
            let by = &form.viewer.caller.label;
            state
                .service
                .create_sign_in_link(by, role, form.text("rep"))
                .await
        }
        None => Err(Error::field("role", "must be sdr, revops or admin")),
    };
    match made {
        Ok((_, token)) => {
            let url = format!("{}/app/login/{token}", state.pages.link_base);
            let fresh = Entered::default().with("role", "sdr");
            let markup = render(&state, &form.viewer, Some(&url), &fresh, &Errors::none()).await?;
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
