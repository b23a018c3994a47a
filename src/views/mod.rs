//! The JSON representations of docs/api.md that more than one part of the service emits: the
//! HTTP handlers answer with them and the webhook dispatcher sends them inside its envelopes, so
//! they live outside both `http` and `jobs`, and outside `db`, whose rows they are built from.

pub mod account;
pub mod lead;
