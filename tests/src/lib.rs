//! Shared helpers for whole-flow tests: finding the workspace, and reaching the services a
//! test needs, skipping with a printed reason when one is absent, unless CI said it is
//! required (`PAKTECH_REQUIRE_DOCKER=1`), in which case the test fails instead.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// Whether the named variable says the service must be there (`1` or `true`).
pub fn required(variable: &str) -> bool {
    matches!(
        std::env::var(variable).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// The Docker engine, or `None` (after printing why) when it is absent and not required.
///
/// # Panics
/// When the engine is absent and `PAKTECH_REQUIRE_DOCKER` is set.
pub async fn docker_or_skip(test: &str) -> Option<bollard::Docker> {
    match pipeline::adapters::docker::connect().await {
        Ok(docker) => Some(docker),
        Err(err) if required("PAKTECH_REQUIRE_DOCKER") => {
            panic!("{test}: PAKTECH_REQUIRE_DOCKER is set but {err}")
        }
        Err(err) => {
            eprintln!("SKIPPED {test}: {err}; set PAKTECH_REQUIRE_DOCKER=1 to make this a failure");
            None
        }
    }
}
