//! Entry point: `paktech-gateway` serves; `paktech-gateway healthcheck` probes a running
//! instance.

use std::process::ExitCode;

use paktech_gateway::build_info::BUILD;
use paktech_gateway::config::GatewayConfig;

fn main() -> ExitCode {
    paktech_service::cli::main(&BUILD, GatewayConfig::from_env(), paktech_gateway::serve)
}
