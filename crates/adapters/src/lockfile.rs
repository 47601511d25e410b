//! The one way the pipeline opens an OS lock file (created when missing, never truncated),
//! shared by the GitOps mirror's lock and the local target's per-environment lock.

use std::path::Path;

/// Opens (creating) the lock file at `path`; the caller takes the lock.
pub fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}
