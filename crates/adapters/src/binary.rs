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

/// The largest dependency list read (the decompressed JSON; auditable-info's own default).
const LIST_LIMIT: usize = 8 << 20;

/// The dependency list of `binary` (the bytes of the file at `path`, which errors name); an
/// error when it has none (built without `cargo auditable`) or it cannot be read.
pub fn dependency_list(binary: &[u8], path: &Path) -> Result<VersionInfo, Error> {
    auditable_info::audit_info_from_slice(binary, LIST_LIMIT).map_err(|e| Error {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
