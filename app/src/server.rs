//! Runs the HTTP server and its graceful shutdown (`paktech_service::server`): `/ready`
//! turns 503 first, then the listener closes, then in-flight requests get a bounded time to
//! finish.

use crate::config::Config;
use crate::routes::{self, AppState};

/// Serves until SIGTERM or SIGINT, then drains and returns.
pub async fn serve(config: Config) -> std::io::Result<()> {
    let state = AppState::new(&config.environment);
    paktech_service::server::serve(&config, state, routes::configure).await
}
