//! Fixes the build identity (`BUILD_SHA`, `APP_VERSION`) into a service binary at compile
//! time, so that one image reports exactly which commit it was built from in every environment.
//!
//! Each service's `build.rs` calls [`emit`]; the crate has no dependencies, so as a
//! build-dependency it costs one small host compile.

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
        _ => git_head().unwrap_or_else(|| "unknown".to_owned()),
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

/// The commit checked out, and the files whose change means another commit is checked out.
fn git_head() -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git").args(args).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let git_dir = git(&["rev-parse", "--absolute-git-dir"])?;
    println!("cargo:rerun-if-changed={git_dir}/HEAD");
    println!("cargo:rerun-if-changed={git_dir}/packed-refs");
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed={git_dir}/{reference}");
    }
    git(&["rev-parse", "HEAD"]).filter(|sha| is_build_sha(sha))
}

#[cfg(test)]
mod tests {
    use super::is_build_sha;

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
