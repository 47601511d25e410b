//! The PakTech JSON web service. `/info` always tells exactly which build is running.

pub mod access_log;
pub mod build_info;
pub mod config;
pub mod healthcheck;
pub mod log_format;
pub mod metrics;
pub mod routes;
pub mod server;
