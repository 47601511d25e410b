//! `cargo xtask sbom` after `ci`: prints the SBOM `ci` stored beside the image, byte for byte
//! what the dev commit's `Sbom-Digest` trailer names; without one it refuses with exit 3.

use std::process::{Command, Output, Stdio};

use pipeline::flow::ci::{self, CiOptions};
use pipeline::report::Silent;
use sha2::Digest as _;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

#[tokio::test(flavor = "multi_thread")]
async fn xtask_sbom_prints_what_ci_stored_and_refuses_when_there_is_none() {
    if !tests::require(tests::Service::Tool("cargo-auditable"), "xtask sbom") {
        return;
    }
    let Some(docker) = tests::docker_or_skip("xtask sbom").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("sbom");
    let _cleanup = tests::Cleanup::new(&prefix);
    let pipeline = tests::test_pipeline(dir.path(), docker, &prefix);
    let options = CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("sbom-test".parse().expect("person"), "run-sbom")
    };
    let (report, error) = ci::run(&pipeline, &options, &Silent).await;
    assert!(error.is_none(), "ci failed: {error:?}\n{report:#?}");
    let tag = report.image.expect("image").tag;
    let stored = report.sbom.expect("ci stored an SBOM");

    let remote = dir.path().join("gitops.git");
    let trailer = tests::git_cli(
        &remote,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Sbom-Digest,valueonly)",
            "main",
        ],
    );
    assert_eq!(
        trailer.trim(),
        stored,
        "the dev commit names the stored SBOM"
    );

    let xtask = |args: &[&str]| -> Output {
        Command::new(XTASK)
            .args(args)
            .env("PAKTECH_GITOPS_URL", &remote)
            .env("PAKTECH_STATE_DIR", dir.path())
            .env("PAKTECH_TARGET_PREFIX", &prefix)
            .env("PAKTECH_NOW", tests::DAYTIME)
            .stdin(Stdio::null())
            .output()
            .expect("run xtask")
    };
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
