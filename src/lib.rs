//! salgate: the Sales Accepted Lead gate. See README.md and docs/api.md.

pub mod clock;
pub mod config;
pub mod crm;
pub mod db;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod notify;
pub mod outbound;
pub mod pages;
pub mod policy_cache;
pub mod service;
pub mod startup;
pub mod telemetry;
pub mod views;
