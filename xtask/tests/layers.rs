//! The crates' layering holds, by cargo-deny rather than a walk of the manifests of our own
//! (docs/architecture.md, "Crates"): `deny.toml` names who may use each crate of the
//! workspace and each outside system's client (`[bans] deny` with `wrappers`), and
//! `deny.pure.toml`, run with each pure crate as the root of the graph and without its
//! dev-dependencies, refuses every I/O crate in its tree. Both are run here as `.ci/run` runs
//! them, and each is shown to refuse what it is for: a pure crate's tree with tokio in it, a
//! lower crate depending on a higher one.

use std::path::Path;
use std::process::Command;

use tests::Service;

/// The crates whose normal dependency tree must hold no I/O crate.
const PURE: [&str; 5] = ["model", "supply-chain", "delivery", "config", "policy"];

/// Runs `cargo deny` in `dir`: whether it passed, and what it said. Not `--offline`: its
/// `cargo metadata` reads every package of `Cargo.lock`, for every platform (windows-sys,
/// android_system_properties…), which a build on this machine never downloaded; cargo fetches
/// them from the registry once. (`.ci/run` runs `cargo fetch --locked` first, then offline.)
fn deny(dir: &Path, args: &[&str]) -> (bool, String) {
    tests::output_of(
        Command::new("cargo")
            .arg("deny")
            .args(["--log-level", "error"])
            .args(args)
            .current_dir(dir),
    )
}

fn cargo_deny(test: &str) -> bool {
    tests::require(Service::Tool("cargo-deny"), test)
}

#[test]
fn licences_sources_and_who_uses_what_pass() {
    if !cargo_deny("licences_sources_and_who_uses_what_pass") {
        return;
    }
    let (passed, said) = deny(
        &tests::workspace(),
        &["check", "licenses", "sources", "bans"],
    );
    assert!(passed, "{said}");
}

#[test]
fn no_io_crate_enters_a_pure_crates_tree() {
    if !cargo_deny("no_io_crate_enters_a_pure_crates_tree") {
        return;
    }
    let root = tests::workspace();
    for name in PURE {
        let manifest = format!("crates/{name}/Cargo.toml");
        let (passed, said) = deny(
            &root,
            &[
                "--manifest-path",
                &manifest,
                "--config",
                "deny.pure.toml",
                "check",
                "bans",
            ],
        );
        assert!(passed, "{name}: {said}");
    }
    // The same check rooted at the adapters, which talk to the world, refuses them.
    let (passed, text) = deny(
        &root,
        &[
            "--manifest-path",
            "crates/adapters/Cargo.toml",
            "--config",
            "deny.pure.toml",
            "check",
            "bans",
        ],
    );
    assert!(!passed, "{text}");
    for banned in ["tokio", "git2", "bollard", "kube", "reqwest"] {
        assert!(
            text.contains(&format!("crate '{banned} = ")),
            "{banned} is not named: {text}"
        );
    }
}

#[test]
fn a_lower_crate_depending_on_a_higher_one_is_refused() {
    if !cargo_deny("a_lower_crate_depending_on_a_higher_one_is_refused") {
        return;
    }
    // A workspace of two empty crates named as ours, checked with the project's deny.toml:
    // first as the layers allow (flow uses model), then model reaching up to flow.
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    let manifest = |name: &str, dependency: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\nlicense = \"MIT\"\npublish = false\n\n[dependencies]\n{dependency}\n"
        )
    };
    std::fs::copy(
        tests::workspace().join("deny.toml"),
        dir.path().join("deny.toml"),
    )
    .expect("deny.toml");
    write(
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"model\", \"flow\"]\n",
    );
    write("model/src/lib.rs", "");
    write("flow/src/lib.rs", "");
    write("model/Cargo.toml", &manifest("model", ""));
    write(
        "flow/Cargo.toml",
        &manifest("flow", "model = { path = \"../model\" }"),
    );
    let (allowed, said) = deny(dir.path(), &["check", "bans"]);
    assert!(allowed, "{said}");

    write(
        "model/Cargo.toml",
        &manifest("model", "flow = { path = \"../flow\" }"),
    );
    write("flow/Cargo.toml", &manifest("flow", ""));
    let (passed, text) = deny(dir.path(), &["check", "bans"]);
    assert!(!passed, "{text}");
    assert!(
        text.contains("crate 'flow = 0.1.0' is explicitly banned"),
        "{text}"
    );
}
