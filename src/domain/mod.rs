//! Pure domain logic: no I/O, no clock of its own. Persistence and HTTP call into it.

pub mod account_key;
pub mod actor;
pub mod band_evidence;
pub mod body;
pub mod claim_order;
pub mod cycle_facts;
pub mod dates;
pub mod drivers;
pub mod features;
pub mod identity;
pub mod lead;
pub mod lead_input;
pub mod lead_size;
mod members;
pub mod metrics;
pub mod model;
pub mod network;
pub mod notify;
pub mod outcome;
pub mod routed_at;
pub mod routing;
pub mod rules;
pub mod salesforce_id;
pub mod signature;
pub mod sla;
pub mod sla_input;
pub mod slack_signature;
pub mod slug;
pub mod spend;
pub mod validation;
pub mod visibility;
pub mod webhook;
pub mod working_time;

pub use actor::{Actor, Role};
pub use lead::{Action, Command, Decided, DecisionError, LeadState};
