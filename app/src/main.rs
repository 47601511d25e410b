//! Entry point: `paktech-app` serves; `paktech-app healthcheck` probes a running instance.

use std::process::ExitCode;

use paktech_app::build_info::BUILD;
use paktech_app::config::Config;
use paktech_app::server;

fn main() -> ExitCode {
    paktech_service::cli::main(&BUILD, Config::from_env(), server::serve)
}
