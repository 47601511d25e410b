//! Where the workspace is, wherever `cargo xtask` was started from.

use std::path::PathBuf;

/// The workspace root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// The version every crate of the workspace shares.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where the source lives, for the image's OCI labels.
pub const SOURCE_URL: &str = env!("CARGO_PKG_REPOSITORY");
