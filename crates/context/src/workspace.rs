//! Where the workspace is, wherever `cargo xtask` was started from.

use std::path::PathBuf;

/// The workspace root (two folders above this crate's: `crates/context`).
pub fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The version every crate of the workspace shares.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the source lives, for the image's OCI labels.
pub const SOURCE_URL: &str = env!("CARGO_PKG_REPOSITORY");
