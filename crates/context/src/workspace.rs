//! Where the workspace is, wherever `cargo xtask` was started from.

use std::path::{Path, PathBuf};

/// The workspace root.
///
/// Under cargo (`cargo xtask` is `cargo run --package xtask`; a test run by cargo or nextest),
/// it is the workspace of the package cargo runs, found from the `CARGO_MANIFEST_DIR` cargo
/// sets at run time: the first folder up from it whose `Cargo.toml` has a `[workspace]`. So a
/// build copied into another checkout of the same sources (the quickstart test's clone reuses
/// the suite's compiled crates) works on that checkout, not on the one it was compiled in.
/// Run by itself, the binary works on the workspace it was compiled in (two folders above
/// this crate's: `crates/context`).
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| workspace_of(Path::new(&dir)))
        .unwrap_or_else(compiled_in)
}

/// The first of `dir` and its ancestors whose `Cargo.toml` declares a workspace.
fn workspace_of(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "[workspace]"))
        })
        .map(Path::to_path_buf)
}

fn compiled_in() -> PathBuf {
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

#[cfg(test)]
mod tests;
