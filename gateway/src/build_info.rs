//! The identity of this build, fixed at compile time by `build.rs`.

use paktech_service::build_info::BuildInfo;

/// The service's name, as reported on its routes and in metrics.
pub const SERVICE_NAME: &str = "paktech-gateway";
/// This build.
pub const BUILD: BuildInfo = paktech_service::build_info!(SERVICE_NAME);
/// Full git SHA the binary was built from (`<sha>-dirty` for a dirty tree, `unknown` outside git).
pub const BUILD_SHA: &str = BUILD.build_sha;
/// Release version of the service.
pub const VERSION: &str = BUILD.version;
