//! `/v1/leads`: ingest, read, list, history, the three decisions, touches and assignment. One
//! operation per file; each handler extracts its input, calls one `service` use case, and
//! renders the outcome.

mod assign;
mod create;
mod decide;
mod get;
mod headers;
mod history;
mod list;
mod touch;

use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

pub use assign::assign_lead;
// The bodies are read by the use cases' parsers, which the lead page's forms share.
use crate::service::lead_bodies as bodies;
pub use bodies::{AcceptInput, AssignInput, RecycleInput, RejectInput, TouchInput};
pub use create::create_lead;
pub use decide::{accept_lead, recycle_lead, reject_lead};
pub use get::get_lead;
pub use history::{get_lead_history, History};
pub use list::{list_leads, LeadPage};
pub use touch::create_lead_touch;

use super::{error::ApiError, AppState};
use crate::domain::Role;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create::create_lead, list::list_leads))
        .routes(routes!(get::get_lead))
        .routes(routes!(history::get_lead_history))
        .routes(routes!(decide::accept_lead))
        .routes(routes!(decide::reject_lead))
        .routes(routes!(decide::recycle_lead))
        .routes(routes!(touch::create_lead_touch))
        .routes(routes!(assign::assign_lead))
}

const READERS: &[Role] = &[Role::Sdr, Role::Revops, Role::Admin];
const DECIDERS: &[Role] = &[Role::Sdr, Role::Revops, Role::Admin];

/// A lead id from the path; a malformed one names no lead (404).
fn lead_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no lead with this id"))
}
