//! The identity of this build, fixed at compile time by `build.rs`.

use paktech_service::build_info::BuildInfo;

/// The service's name, as reported on `/` and in metrics.
pub const APP_NAME: &str = "paktech-app";
/// This build, as the shared plumbing reports it.
pub const BUILD: BuildInfo = paktech_service::build_info!(APP_NAME);
/// Full git SHA the binary was built from (`<sha>-dirty` for a dirty tree, `unknown` outside git).
pub const BUILD_SHA: &str = BUILD.build_sha;
/// Release version of the service.
pub const APP_VERSION: &str = BUILD.version;
