//! Outside programs the pipeline runs (cargo, grype, checkov, ...), and reading their output.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use model::WorkspaceCrate;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run {program}: {source} (is it installed and on PATH?)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{program} is not installed{}, and the image's binary must carry its dependency list (without it a scan finds nothing); install it with `{install}` (or run .ci/install-tools)",
        tried.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()
    )]
    Missing {
        program: &'static str,
        install: &'static str,
        /// Why installing it into the tools folder failed, when that was tried.
        tried: Option<String>,
    },
    #[error("{command} failed with {status}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error("cannot read `cargo metadata`'s answer: {0}")]
    Metadata(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The target triple the image's binary is compiled for.
pub const IMAGE_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The cargo profile an image's binary is compiled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppProfile {
    /// `release` (thin LTO): every image the pipeline ships.
    #[default]
    Release,
    /// `image-test` (the workspace `Cargo.toml`): release without LTO, compiled
    /// incrementally, for tests' builds of made-up commits. A new `BUILD_SHA` then recompiles
    /// the app crate alone instead of relinking everything with LTO, and its own output
    /// directory leaves the commit's release build fresh.
    ImageTest,
}

impl AppProfile {
    /// The profile's name, which is also its output directory.
    pub fn name(self) -> &'static str {
        match self {
            AppProfile::Release => "release",
            AppProfile::ImageTest => "image-test",
        }
    }
}

/// The cargo subcommand that embeds the dependency list (`.dep-v0`) in the binary, and how to
/// install the version `.ci/install-tools` pins.
pub const CARGO_AUDITABLE: &str = "cargo-auditable";
pub const CARGO_AUDITABLE_INSTALL: &str = "cargo install --locked cargo-auditable --version 0.7.7";

/// Compiles the app as a statically linked binary stamped with `build_sha` and `version`,
/// with `profile`, and returns the binary's path. Cargo's own output goes to this process's
/// stderr.
///
/// `cargo auditable build` embeds the app's dependency tree in the binary's `.dep-v0`
/// section (rust-secure-code/cargo-auditable), which is what scanners (grype, trivy) and the
/// SBOM read. Without `cargo-auditable` (on PATH or in the tools folder, see
/// [`crate::auditable`]) the build fails: a plain build would ship an image a scan reports as
/// empty.
pub async fn build_static_app(
    workspace: &Path,
    package: &str,
    build_sha: &str,
    version: &str,
    profile: AppProfile,
) -> Result<PathBuf> {
    let Some(auditable) = crate::auditable::find(workspace) else {
        return Err(Error::Missing {
            program: CARGO_AUDITABLE,
            install: CARGO_AUDITABLE_INSTALL,
            tried: None,
        });
    };
    let path = crate::auditable::path_for(&auditable).map(|p| p.to_string_lossy().into_owned());
    let mut args = vec!["auditable"];
    args.extend(static_build(profile, package, package));
    let mut envs = vec![
        ("BUILD_SHA", build_sha),
        ("APP_VERSION", version),
        // With --target, these flags reach only the target's code, never build scripts.
        ("RUSTFLAGS", "-C target-feature=+crt-static"),
    ];
    if let Some(path) = &path {
        envs.push(("PATH", path));
    }
    cargo(workspace, &args, &envs, &[]).await?;
    Ok(target_dir(workspace)
        .join(IMAGE_TARGET)
        .join(profile.name())
        .join(package))
}

/// Compiles `package`'s binary `bin` as an image's binary is compiled (statically linked,
/// for [`IMAGE_TARGET`], with `profile`), without the dependency list: for references a
/// benchmark runs beside the app (`paktech-service`'s `paktech-bare`). Returns its path.
pub async fn build_static_bin(
    workspace: &Path,
    package: &str,
    bin: &str,
    profile: AppProfile,
) -> Result<PathBuf> {
    cargo(
        workspace,
        &static_build(profile, package, bin),
        &[("RUSTFLAGS", "-C target-feature=+crt-static")],
        &[],
    )
    .await?;
    Ok(target_dir(workspace)
        .join(IMAGE_TARGET)
        .join(profile.name())
        .join(bin))
}

/// `cargo build`'s arguments for `package`'s binary `bin` as an image holds it.
fn static_build<'a>(profile: AppProfile, package: &'a str, bin: &'a str) -> [&'a str; 10] {
    [
        "build",
        "--profile",
        profile.name(),
        "--locked",
        "--package",
        package,
        "--bin",
        bin,
        "--target",
        IMAGE_TARGET,
    ]
}

/// Where cargo builds `workspace`: `CARGO_TARGET_DIR`, else its `target/` folder.
pub fn target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
}

/// The workspace's packages (`cargo metadata --no-deps`, offline: it reads manifests only).
pub async fn workspace_crates(workspace: &Path) -> Result<Vec<WorkspaceCrate>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace)
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|source| Error::Spawn {
            program: cargo.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Failed {
            command: format!("{cargo} metadata"),
            status: output.status,
        });
    }
    crates_from_metadata(&output.stdout)
}

/// The packages of `cargo metadata`'s JSON answer.
pub fn crates_from_metadata(json: &[u8]) -> Result<Vec<WorkspaceCrate>> {
    let bad = |why: &str| Error::Metadata(why.to_owned());
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| Error::Metadata(e.to_string()))?;
    let root = value["workspace_root"]
        .as_str()
        .ok_or_else(|| bad("no workspace_root"))?;
    let packages = value["packages"]
        .as_array()
        .ok_or_else(|| bad("no packages"))?;
    packages
        .iter()
        .map(|p| {
            let name = p["name"]
                .as_str()
                .ok_or_else(|| bad("a package without a name"))?;
            let manifest = p["manifest_path"]
                .as_str()
                .ok_or_else(|| bad("a package without a manifest_path"))?;
            let dir = Path::new(manifest)
                .parent()
                .and_then(|d| d.strip_prefix(root).ok())
                .map(|d| d.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A dev-dependency makes no binary (cargo's `kind`: null for a normal dependency,
            // "build" or "dev"); a build-dependency runs at compile time and may shape it.
            let path_dependencies = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["path"].is_string() && d["kind"].as_str() != Some("dev"))
                .filter_map(|d| d["name"].as_str().map(str::to_owned))
                .collect();
            Ok(WorkspaceCrate {
                name: name.to_owned(),
                dir,
                path_dependencies,
            })
        })
        .collect()
}

/// Whether `program` is on PATH.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(program);
            candidate.is_file()
        })
    })
}

/// Runs the tests of `packages` (`[ci] test`), with nextest when it is installed, else
/// `cargo test`.
///
/// The tests run without the deploy settings of the job that runs them: no target, no other
/// config, no GitOps remote, no registry, Slack or GitHub credentials. A test process that saw
/// `PAKTECH_TARGET=aks` would aim the commands it starts at the real cluster.
pub async fn run_tests(workspace: &Path, packages: &[String]) -> Result<()> {
    const DEPLOY_SETTINGS: [&str; 13] = [
        "PAKTECH_TARGET",
        "PAKTECH_CONFIG",
        "PAKTECH_GITOPS_URL",
        "PAKTECH_STATE_DIR",
        "PAKTECH_NOW",
        "GITOPS_TOKEN",
        "REGISTRY_USERNAME",
        "REGISTRY_PASSWORD",
        "REGISTRY_TOKEN",
        "SLACK_WEBHOOK_URL",
        "GITHUB_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
    ];
    let args = test_args(on_path("cargo-nextest"), packages);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cargo(workspace, &args, &[], &DEPLOY_SETTINGS).await
}

/// The cargo arguments that test `packages`: `nextest run` when nextest is installed, else
/// `test`.
pub fn test_args(nextest: bool, packages: &[String]) -> Vec<String> {
    let runner: &[&str] = if nextest {
        &["nextest", "run"]
    } else {
        &["test"]
    };
    runner
        .iter()
        .map(|s| (*s).to_owned())
        .chain(["--locked".to_owned()])
        .chain(
            packages
                .iter()
                .flat_map(|p| ["--package".to_owned(), p.clone()]),
        )
        .collect()
}

/// Runs the cargo that runs us (`CARGO`) with `envs` set and the variables `without`
/// removed, its output going to this process's stderr.
async fn cargo(
    workspace: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    without: &[&str],
) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command
        .args(args)
        .current_dir(workspace)
        .envs(envs.iter().copied())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    for name in without {
        command.env_remove(name);
    }
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_for_one_crate) {
            command.env_remove(name);
        }
    }
    let status = command.status().await.map_err(|source| Error::Spawn {
        program: cargo.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            command: format!("{cargo} {}", args.join(" ")),
            status,
        })
    }
}

/// Whether `name` is a variable cargo sets for the one crate it runs (`cargo run`, a test):
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_*` and the like. They are removed before this process runs
/// cargo again, because build scripts (ring's) watch some of them: the tests `ci` runs, or the
/// image's build, would see `CARGO_MANIFEST_DIR=…/xtask` where a shell has none, rerun the
/// script, and recompile ring, rustls, kube and the workspace twice, once here and once more
/// for the next `cargo xtask` (docs/architecture.md, "One build").
pub fn set_by_cargo_for_one_crate(name: &str) -> bool {
    const EXACT: [&str; 7] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    EXACT.contains(&name) || name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_BIN_EXE_")
}

/// Runs `program args` and returns its stdout, accepting the listed exit codes
/// (scanners exit non-zero when they find something).
pub async fn output(program: &str, args: &[&str], ok_codes: &[i32]) -> Result<Vec<u8>> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| Error::Spawn {
            program: program.to_owned(),
            source,
        })?;
    match out.status.code() {
        Some(code) if ok_codes.contains(&code) => Ok(out.stdout),
        _ => Err(Error::Failed {
            command: format!("{program} {}", args.join(" ")),
            status: out.status,
        }),
    }
}

/// Runs `program args` with `input` on its stdin (none when empty) and its stderr going to
/// this process's, and returns its stdout; a non-zero exit is an error naming the command.
pub async fn run(program: &str, args: &[&str], input: &[u8]) -> Result<String> {
    use tokio::io::AsyncWriteExt;
    let spawn_error = |source| Error::Spawn {
        program: program.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_error)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).await.map_err(spawn_error)?;
    }
    let out = child.wait_with_output().await.map_err(spawn_error)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Failed {
            command: format!("{program} {}", args.join(" ")),
            status: out.status,
        })
    }
}

/// Runs `terraform args` in `dir`, its output going to this process's; returns the exit
/// code (terraform's `plan -detailed-exitcode` says "changes present" with 2).
pub async fn terraform(dir: &Path, args: &[&str]) -> Result<i32> {
    if !on_path("terraform") {
        return Err(Error::Spawn {
            program: "terraform".to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "terraform is not on PATH"),
        });
    }
    let status = Command::new("terraform")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .await
        .map_err(|source| Error::Spawn {
            program: "terraform".to_owned(),
            source,
        })?;
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::{set_by_cargo_for_one_crate, test_args};

    #[test]
    fn what_cargo_sets_for_one_crate_is_not_passed_on() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION",
            "CARGO_BIN_EXE_xtask",
            "OUT_DIR",
        ] {
            assert!(set_by_cargo_for_one_crate(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!set_by_cargo_for_one_crate(name), "{name}");
        }
    }

    #[test]
    fn a_dev_dependency_is_not_what_a_package_is_made_from() {
        let metadata = br#"{"workspace_root": "/w", "packages": [{
            "name": "gateway", "manifest_path": "/w/gateway/Cargo.toml",
            "dependencies": [
                {"name": "service", "path": "/w/service", "kind": null},
                {"name": "build-info", "path": "/w/build-info", "kind": "build"},
                {"name": "app", "path": "/w/app", "kind": "dev"},
                {"name": "serde", "kind": null}
            ]}]}"#;
        let crates = super::crates_from_metadata(metadata).expect("metadata");
        assert_eq!(crates[0].dir, "gateway");
        assert_eq!(crates[0].path_dependencies, ["service", "build-info"]);
    }

    #[test]
    fn the_test_step_names_each_configured_package() {
        let packages = ["paktech-app".to_owned(), "policy".to_owned()];
        assert_eq!(
            test_args(true, &packages).join(" "),
            "nextest run --locked --package paktech-app --package policy"
        );
        assert_eq!(
            test_args(false, &packages[1..]).join(" "),
            "test --locked --package policy"
        );
    }
}
