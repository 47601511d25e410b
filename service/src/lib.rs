//! What every PakTech web service shares: configuration, JSON logs, the access log and
//! metrics, `/ready` and `/metrics`, JSON errors, the server with its graceful shutdown, the
//! `healthcheck` subcommand and the command line. Each service adds its own routes and
//! state around a [`state::Core`].

pub mod access_log;
pub mod build_info;
pub mod cli;
pub mod config;
pub mod healthcheck;
pub mod log_format;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod state;
