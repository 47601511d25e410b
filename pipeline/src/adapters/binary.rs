//! What a built binary says about itself: the dependency list `cargo auditable` embedded in
//! its `.dep-v0` section, read with the `auditable-info` crate (the reader scanners use).

use std::path::{Path, PathBuf};

pub use auditable_serde::VersionInfo;

#[derive(Debug, thiserror::Error)]
#[error("cannot read the dependency list of {}: {reason}", path.display())]
pub struct Error {
    pub path: PathBuf,
    pub reason: String,
}

/// The dependency list of the binary at `path`; an error when it has none (built without
/// `cargo auditable`) or cannot be read.
pub fn dependency_list(path: &Path) -> Result<VersionInfo, Error> {
    auditable_info::audit_info_from_file(path, auditable_info::Limits::default()).map_err(|e| {
        Error {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })
}
