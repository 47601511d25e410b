//! Fixes the build identity (`BUILD_SHA`, `APP_VERSION`) into a service binary at compile
//! time, so that one image reports exactly which commit it was built from in every environment.
//!
//! Each service's `build.rs` calls [`emit`]; the crate has no dependencies, so as a
//! build-dependency it costs one small host compile.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Sets `PAKTECH_BUILD_SHA` and `PAKTECH_APP_VERSION` for the crate being built.
///
/// The SHA is `BUILD_SHA` from the environment, else `git rev-parse HEAD`, else `unknown`;
/// the version is `APP_VERSION`, else the crate's version.
///
/// # Panics
///
/// When `BUILD_SHA` is set but is not 40 lowercase hex characters, optionally followed by
/// `-dirty`: the build fails rather than stamp a binary with a name no commit has.
pub fn emit() {
    println!("cargo:rerun-if-env-changed=BUILD_SHA");
    println!("cargo:rerun-if-env-changed=APP_VERSION");

    let sha = match std::env::var("BUILD_SHA") {
        Ok(sha) if !sha.is_empty() => {
            assert!(
                is_build_sha(&sha),
                "BUILD_SHA={sha:?}: expected 40 lowercase hex characters, optionally followed by -dirty"
            );
            sha
        }
        _ => {
            let (sha, watched) = git_head(Path::new("."));
            for path in watched {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            sha.unwrap_or_else(|| "unknown".to_owned())
        }
    };
    let version = std::env::var("APP_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("CARGO_PKG_VERSION").ok())
        .unwrap_or_else(|| "unknown".to_owned());

    println!("cargo:rustc-env=PAKTECH_BUILD_SHA={sha}");
    println!("cargo:rustc-env=PAKTECH_APP_VERSION={version}");
}

/// 40 lowercase hex characters, optionally followed by `-dirty`.
pub fn is_build_sha(s: &str) -> bool {
    let hex = s.strip_suffix("-dirty").unwrap_or(s);
    hex.len() == 40 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The commit checked out in the repository at or above `dir`, and the paths whose change
/// means another commit is checked out.
///
/// Only paths that exist are returned: cargo counts a watched path that is missing as changed,
/// so watching an absent `packed-refs` (a repository whose refs were never packed) reran this
/// script and recompiled the service in every build. A branch's ref file that is absent (its
/// ref is packed) is watched through the nearest folder that exists, which changes when the
/// next commit writes the file.
fn git_head(dir: &Path) -> (Option<String>, Vec<PathBuf>) {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) else {
        return (None, Vec::new());
    };
    // Refs live in the common folder, which differs from the git folder in a worktree.
    let common = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
        .map(PathBuf::from)
        .unwrap_or_else(|| git_dir.clone());
    let mut watched = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let loose = common.join(&reference);
        if let Some(existing) = loose.ancestors().find(|path| path.exists()) {
            watched.push(existing.to_owned());
        }
    }
    watched.retain(|path| path.exists());
    let sha = git(&["rev-parse", "HEAD"]).filter(|sha| is_build_sha(sha));
    (sha, watched)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch repository with one commit and its refs loose, as `git init` leaves them.
    fn scratch_repo(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("paktech-build-info-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
                .args(args)
                .current_dir(&dir)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .status()
                .expect("run git")
                .success();
            assert!(ok, "git {args:?} failed");
        };
        git(&["init", "-q", "-b", "main"]);
        git(&["commit", "-q", "--allow-empty", "-m", "one"]);
        dir
    }

    #[test]
    fn only_paths_that_exist_are_watched() {
        let dir = scratch_repo("loose");
        let (sha, watched) = git_head(&dir);
        assert!(sha.as_deref().is_some_and(is_build_sha), "{sha:?}");
        assert!(!dir.join(".git/packed-refs").exists());
        assert!(watched.iter().all(|p| p.exists()), "{watched:?}");
        assert!(
            watched.iter().any(|p| p.ends_with(".git/HEAD")),
            "{watched:?}"
        );
        assert!(
            watched.iter().any(|p| p.ends_with("refs/heads/main")),
            "{watched:?}"
        );

        // Packed: the loose file is gone, so its folder and packed-refs are watched.
        let ok = Command::new("git")
            .args(["pack-refs", "--all"])
            .current_dir(&dir)
            .status()
            .expect("run git")
            .success();
        assert!(ok);
        let (packed_sha, watched) = git_head(&dir);
        assert_eq!(packed_sha, sha);
        assert!(watched.iter().all(|p| p.exists()), "{watched:?}");
        assert!(
            watched.iter().any(|p| p.ends_with("packed-refs")),
            "{watched:?}"
        );
        assert!(
            watched.iter().any(|p| p.ends_with("refs/heads")),
            "{watched:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn build_shas_are_40_lowercase_hex_optionally_dirty() {
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert!(is_build_sha(sha));
        assert!(is_build_sha(&format!("{sha}-dirty")));
        assert!(!is_build_sha(&sha.to_uppercase()));
        assert!(!is_build_sha(&sha[1..]));
        assert!(!is_build_sha(&format!("{sha}-clean")));
        assert!(!is_build_sha("unknown"));
    }
}
