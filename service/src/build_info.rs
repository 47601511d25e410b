//! Which build a service is: its name, version and commit, as its own crate fixed them at
//! compile time (`paktech_build_info::emit` in the service's `build.rs`).

/// The identity of one service binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildInfo {
    /// The service's name, as reported on its routes and in the `app` label of its metrics.
    pub app: &'static str,
    /// Release version of the service (`APP_VERSION`, else the crate's version).
    pub version: &'static str,
    /// Full git SHA the binary was built from (`<sha>-dirty` for a dirty tree, `unknown`
    /// outside git).
    pub build_sha: &'static str,
}

/// The [`BuildInfo`] of the crate this macro is expanded in, named `app`.
///
/// `env!` reads the variables `paktech_build_info::emit` set for that crate, so each binary
/// carries its own commit, never the shared library's.
#[macro_export]
macro_rules! build_info {
    ($app:expr) => {
        $crate::build_info::BuildInfo {
            app: $app,
            version: env!("PAKTECH_APP_VERSION"),
            build_sha: env!("PAKTECH_BUILD_SHA"),
        }
    };
}
