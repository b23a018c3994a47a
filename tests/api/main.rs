//! One test binary for the HTTP API, against a real PostgreSQL.

mod auth;
mod batch;
mod browser;
mod decisions;
mod faults;
mod helpers;
mod idempotency;
mod ingest;
mod integrations;
mod lane;
mod listing;
mod metrics;
mod metrics_log;
mod operations;
mod pages_auth;
mod race;
mod retention;
mod routing;
mod rules;
mod signatures;
mod sla;
mod statements;
mod taxonomy;
mod text_columns;
mod visibility;
mod webhooks;
