//! `cargo xtask e2e --target kind`: where kind, kubectl, git and Docker are all present, the
//! whole delivery runs on a kind cluster and must pass. Where one is missing (this project's
//! CI machine cannot run kind), the run skips with its reason, and `PAKTECH_REQUIRE_KIND=1`
//! turns that skip into a failure; both behaviours are checked here with the tools hidden.

use std::process::{Command, Output};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn e2e(path: &str, env: &[(&str, &str)]) -> Output {
    Command::new(XTASK)
        .args(["e2e", "--target", "kind"])
        .env("PATH", path)
        .env_remove("PAKTECH_REQUIRE_KIND")
        .envs(env.iter().copied())
        .output()
        .expect("run xtask")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn without_kind_the_run_skips_with_its_reason_unless_required() {
    let empty = tempfile::tempdir().expect("tempdir");
    let path = empty.path().display().to_string();

    let skipped = e2e(&path, &[]);
    assert_eq!(skipped.status.code(), Some(0), "{}", stderr(&skipped));
    assert!(
        stderr(&skipped).contains(
            "SKIPPED e2e --target kind: kind, kubectl, docker, git not on PATH; set PAKTECH_REQUIRE_KIND=1"
        ),
        "{}",
        stderr(&skipped)
    );

    let required = e2e(&path, &[("PAKTECH_REQUIRE_KIND", "1")]);
    assert_eq!(required.status.code(), Some(1), "{}", stderr(&required));
    assert!(
        stderr(&required).contains("PAKTECH_REQUIRE_KIND is set but the kind end-to-end run cannot start: kind, kubectl, docker, git not on PATH"),
        "{}",
        stderr(&required)
    );
}

#[test]
fn the_whole_delivery_on_kind() {
    // Without kind the run skips (with PAKTECH_REQUIRE_KIND=1 it fails): the one rule every
    // test here follows for a missing service.
    if !tests::require(tests::Service::Kind, "the_whole_delivery_on_kind") {
        return;
    }
    let out = Command::new(XTASK)
        .args(["e2e", "--target", "kind"])
        .output()
        .expect("run xtask");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("every check passed"),
        "{}",
        stderr(&out)
    );
}
