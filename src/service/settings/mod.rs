//! The settings use cases RevOps and admins run: the taxonomy of codes, SLA policies and
//! calendars, queues and reps, webhook subscriptions and API keys. The JSON API
//! (`src/http/{reason_codes,sla,routing,webhooks,api_keys}.rs`) and the settings pages
//! (`src/pages/settings/`) both call these, with the same JSON bodies read by the same
//! parsers, so a page form is refused exactly where the API would refuse it.
//!
//! Who may call them is checked at each edge (the API names the key's role, the pages the
//! session's), before anything is read.

pub mod keys;
pub mod notify;
pub mod routing;
pub mod sla;
pub mod taxonomy;
pub mod webhooks;
