//! Background work. Each job has a step function (`run_once`) that tests call directly with a
//! controlled clock, and a loop that runs it on an interval until cancelled.

pub mod cycle_compactor;
pub mod dispatcher;
pub mod key_listener;
pub mod pg_supervisor;
pub mod retention;
pub mod sla_scanner;
