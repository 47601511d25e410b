//! The PakTech gateway: a second service in front of paktech-app. `GET /` answers which
//! builds served the request end to end (its own, and paktech-app's `/info`); `/health` is
//! healthy only while paktech-app answers. The plumbing is `paktech-service`'s.

pub mod build_info;
pub mod config;
pub mod routes;
pub mod upstream;

use config::GatewayConfig;
use routes::GatewayState;

/// Serves until SIGTERM or SIGINT, then drains and returns (`paktech_service::server`).
pub async fn serve(config: GatewayConfig) -> std::io::Result<()> {
    tracing::info!(upstream = config.upstream.as_str(), "upstream");
    let state = GatewayState::new(&config.service.environment, config.upstream);
    paktech_service::server::serve(&config.service, state, routes::configure).await
}
