//! The identity of this build, fixed at compile time by `build.rs`.

/// Full git SHA the binary was built from (`<sha>-dirty` for a dirty tree, `unknown` outside git).
pub const BUILD_SHA: &str = env!("PAKTECH_BUILD_SHA");
/// Release version of the service.
pub const APP_VERSION: &str = env!("PAKTECH_APP_VERSION");
/// The service's name, as reported on `/` and in metrics.
pub const APP_NAME: &str = "paktech-app";
