//! cargo-auditable, which embeds the app's dependency list in the image's binary: found on
//! PATH, or in the workspace's own tools folder (`.paktech/tools/cargo-auditable-<version>/`),
//! where the first build installs the pinned version when it is found nowhere, so a fresh
//! machine with Rust and Docker needs no set-up command of its own.
//!
//! The install is `cargo install --locked cargo-auditable --version <pinned> --root <folder>`
//! with cargo's progress on stderr. It is made in a temporary folder beside the final one and
//! renamed into place once complete, so an install that fails or is killed half-way leaves
//! nothing that looks installed, and the next build starts it again.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::tools::{CARGO_AUDITABLE, CARGO_AUDITABLE_INSTALL, Error, Result, on_path};

/// The version installed, as `.ci/install-tools` and [`CARGO_AUDITABLE_INSTALL`] pin it.
pub const VERSION: &str = "0.7.7";

/// Where a build finds cargo-auditable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// On PATH, as `cargo auditable` finds it.
    OnPath,
    /// In the tools folder: this `bin` folder goes in front of PATH.
    Installed(PathBuf),
}

/// The folder the pinned version is installed into, under `workspace`.
pub fn folder(workspace: &Path) -> PathBuf {
    workspace
        .join(".paktech")
        .join("tools")
        .join(format!("{CARGO_AUDITABLE}-{VERSION}"))
}

/// Where cargo-auditable is, or `None` when it is nowhere.
pub fn find(workspace: &Path) -> Option<Found> {
    if on_path(CARGO_AUDITABLE) {
        return Some(Found::OnPath);
    }
    let bin = folder(workspace).join("bin");
    bin.join(CARGO_AUDITABLE)
        .is_file()
        .then_some(Found::Installed(bin))
}

/// The PATH a build runs `cargo auditable` with: this process's, behind the tools folder when
/// it was installed there.
pub fn path_for(found: &Found) -> Option<std::ffi::OsString> {
    let Found::Installed(bin) = found else {
        return None;
    };
    Some(path_with(bin.clone()))
}

/// This process's PATH with `bin` in front.
fn path_with(bin: PathBuf) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(bin).chain(std::env::split_paths(&rest));
    std::env::join_paths(paths).unwrap_or(rest)
}

/// Installs the pinned version into [`folder`] with `cargo` (the `CARGO` the pipeline runs),
/// cargo's progress on this process's stderr; its `bin` folder when done.
pub async fn install(workspace: &Path, cargo: &str) -> Result<PathBuf> {
    let done = folder(workspace);
    let parent = done.parent().unwrap_or(workspace).to_owned();
    let failed = |why: String| Error::Missing {
        program: CARGO_AUDITABLE,
        install: CARGO_AUDITABLE_INSTALL,
        tried: Some(format!(
            "installing it into {} failed: {why}",
            done.display()
        )),
    };
    std::fs::create_dir_all(&parent).map_err(|e| failed(e.to_string()))?;
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{CARGO_AUDITABLE}-{VERSION}-"))
        .tempdir_in(&parent)
        .map_err(|e| failed(e.to_string()))?;
    let status = Command::new(cargo)
        .args(["install", "--locked", CARGO_AUDITABLE, "--version", VERSION])
        .arg("--root")
        .arg(partial.path())
        // Its own build folder, removed with the partial install: the tool's dependencies
        // are no part of the workspace's build.
        .arg("--target-dir")
        .arg(partial.path().join("build"))
        .env_remove("CARGO_TARGET_DIR")
        // Its bin folder on PATH, or cargo ends by telling the user to add it there.
        .env("PATH", path_with(partial.path().join("bin")))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|e| failed(format!("cannot run {cargo}: {e}")))?;
    if !status.success() {
        return Err(failed(format!("`{cargo} install` ended with {status}")));
    }
    let installed = partial.path().join("bin").join(CARGO_AUDITABLE);
    if !installed.is_file() {
        return Err(failed(format!(
            "`{cargo} install` put no {CARGO_AUDITABLE} in {}",
            installed.display()
        )));
    }
    let _ = std::fs::remove_dir_all(partial.path().join("build"));
    let partial = partial.keep();
    if let Err(e) = std::fs::rename(&partial, &done) {
        let _ = std::fs::remove_dir_all(&partial);
        // Another build finished the same install first.
        if !done.join("bin").join(CARGO_AUDITABLE).is_file() {
            return Err(failed(e.to_string()));
        }
    }
    Ok(done.join("bin"))
}

#[cfg(test)]
mod tests;
