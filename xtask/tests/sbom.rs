//! `cargo xtask ci` then `cargo xtask sbom`: `ci` stores the SBOM beside the image, names it
//! in the dev commit (`Sbom-Digest`), has grype scan that SBOM (`Scan-Sbom`), and `sbom`
//! prints it byte for byte; without one it refuses with exit 3. And without cargo-auditable no
//! image is built at all: the error says how to install it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use sha2::Digest as _;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// A stand-in for grype on PATH: it reads an SBOM on stdin (refusing anything else, such as an
/// image name in its arguments) and reports one low finding in the app it names.
fn fake_grype(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let script = bin.join("grype");
    std::fs::write(
        &script,
        r#"#!/bin/sh
[ "$1" = "-o" ] || { echo "expected an SBOM on stdin, got arguments: $*" >&2; exit 2; }
input=$(cat)
case "$input" in
  *'"bomFormat": "CycloneDX"'*'"name": "paktech-app"'*) ;;
  *) echo "stdin is not the app's CycloneDX SBOM" >&2; exit 2 ;;
esac
echo '{"matches":[{"vulnerability":{"id":"GHSA-test-0001","severity":"Low"},"artifact":{"name":"paktech-app","version":"0.1.0"}}]}'
"#,
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bin
}

#[tokio::test(flavor = "multi_thread")]
async fn xtask_sbom_prints_what_ci_stored_and_refuses_when_there_is_none() {
    if !tests::require(tests::Service::Tool("cargo-auditable"), "xtask sbom") {
        return;
    }
    if tests::docker_or_skip("xtask sbom").await.is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("sbom");
    let _cleanup = tests::Cleanup::new(&prefix);
    let remote = tests::seeded_remote(dir.path());
    let config = tests::one_app_config(dir.path());
    let path = format!(
        "{}:{}",
        fake_grype(dir.path()).display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let xtask = |args: &[&str]| -> Output {
        Command::new(XTASK)
            .args(args)
            .env("PAKTECH_GITOPS_URL", &remote)
            // One app: the build, SBOM and scan this test follows are paktech-app's.
            .env("PAKTECH_CONFIG", &config)
            .env("PAKTECH_STATE_DIR", dir.path())
            .env("PAKTECH_TARGET_PREFIX", &prefix)
            .env("PAKTECH_NOW", tests::DAYTIME)
            .env("PATH", &path)
            .env_remove("SLACK_WEBHOOK_URL")
            .stdin(Stdio::null())
            .output()
            .expect("run xtask")
    };
    let ci = xtask(&["ci", "--skip-tests", "--allow-dirty", "--json"]);
    assert!(
        ci.status.success(),
        "ci: {}",
        String::from_utf8_lossy(&ci.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ci.stdout).expect("ci --json");
    let tag = report["image"]["tag"].as_str().expect("tag").to_owned();
    let stored = report["sbom"]
        .as_str()
        .expect("ci stored an SBOM")
        .to_owned();

    let trailer = |key: &str| {
        tests::git_cli(
            &remote,
            &[
                "log",
                "-1",
                &format!("--format=%(trailers:key={key},valueonly)"),
                "main",
            ],
        )
        .trim()
        .to_owned()
    };
    assert_eq!(
        trailer("Sbom-Digest"),
        stored,
        "the dev commit names the stored SBOM"
    );
    assert_eq!(trailer("Scan-Sbom"), stored, "grype scanned that SBOM");
    assert_eq!(
        trailer("Scan-Summary"),
        "critical=0 high=0 medium=0 low=1 negligible=0 unknown=0"
    );

    for args in [
        &["sbom"][..],
        &["sbom", "--env", "dev"],
        &["sbom", "--sha", &tag.to_string()],
    ] {
        let out = xtask(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert_eq!(
            format!("sha256:{:x}", sha2::Sha256::digest(&out.stdout)),
            stored,
            "{args:?} prints the stored bytes"
        );
        let document: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(document["bomFormat"], "CycloneDX");
        assert_eq!(
            document["metadata"]["component"]["version"],
            tag.to_string()
        );
    }

    std::fs::remove_dir_all(dir.path().join("attachments")).expect("remove the store");
    let out = xtask(&["sbom"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no SBOM is stored for"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_cargo_auditable_no_image_is_built_and_the_error_says_how_to_install_it() {
    if tests::docker_or_skip("xtask image without cargo-auditable")
        .await
        .is_none()
    {
        return;
    }
    // A PATH without cargo-auditable (cargo itself is reached through CARGO, as under cargo),
    // and a cargo that cannot install it either: offline, with a CARGO_HOME that has no index.
    // So the build tries the install into the tools folder, which fails at once, leaves
    // nothing there, and the error says how to install it by hand.
    let empty = tempfile::tempdir().expect("tempdir");
    let tools = tests::workspace().join(".paktech/tools");
    let out = Command::new(XTASK)
        .args([
            "image",
            "--allow-dirty",
            "--repository",
            "paktech-no-auditable",
        ])
        .env("PATH", empty.path())
        .env("CARGO_HOME", empty.path())
        .env("CARGO_NET_OFFLINE", "true")
        .env(
            "CARGO",
            std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()),
        )
        .stdin(Stdio::null())
        .output()
        .expect("run xtask");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cargo-auditable is not installed and installing it into ")
            && stderr.contains(".paktech/tools/cargo-auditable-0.7.7 failed"),
        "{stderr}"
    );
    let partial = std::fs::read_dir(&tools)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".cargo-auditable"))
        .collect::<Vec<_>>();
    assert!(
        partial.is_empty(),
        "a partial install was left: {partial:?}"
    );
    assert!(
        stderr.contains("cargo install --locked cargo-auditable --version 0.7.7"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Compiling"),
        "nothing was compiled: {stderr}"
    );
}
