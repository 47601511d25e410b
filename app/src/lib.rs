//! The PakTech JSON web service. `/info` always tells exactly which build is running.
//!
//! Its routes and state are here; the plumbing it shares with the other services
//! (configuration, logs, metrics, drain, healthcheck) is `paktech-service`'s, re-exported
//! under the paths it always had.

pub mod access_log;
pub mod build_info;
pub mod routes;
pub mod server;

pub use paktech_service::{config, healthcheck, log_format, metrics};
