//! One build for the command line, the tests and `ci`'s test step (docs/architecture.md, "One
//! build"): after the test build that runs these tests, neither the build `cargo xtask` makes
//! (`cargo run --package xtask`) nor the one `ci`'s test step makes (`cargo nextest run
//! --package …` over `ci.test` in pipeline.toml) has anything left to compile. Were the
//! features they resolve to differ, the first command after `cargo nextest run` would
//! recompile rustls, kube and the workspace, and `ci` would spend minutes doing it.

use std::path::Path;
use std::process::Command;

#[test]
fn the_command_line_build_compiles_nothing_after_the_test_build() {
    let Some(mut cargo) = dev_profile_cargo() else {
        return;
    };
    let compiled = compiled_by(cargo.args(["build", "--package", "xtask"]));
    assert!(
        compiled.is_empty(),
        "`cargo xtask` compiled again what the test build had compiled: {}.\n\
         The command line resolves other features than the tests; compare \
         `cargo tree -p xtask -e normal,build -e features` with `cargo tree --workspace -e features` \
         and add the feature that differs to workspace-hack/Cargo.toml",
        compiled.join(", ")
    );
}

#[test]
fn the_ci_test_step_compiles_nothing_after_the_test_build() {
    let Some(mut cargo) = dev_profile_cargo() else {
        return;
    };
    let workspace = tests::workspace();
    let config = config::PipelineConfig::load_in(&workspace.join("pipeline.toml"), &workspace)
        .expect("the committed pipeline.toml");
    assert!(!config.ci.test.is_empty(), "pipeline.toml names no ci.test");
    // The build `nextest run --package …` makes before it runs anything.
    cargo.args(["test", "--no-run"]);
    for package in &config.ci.test {
        cargo.args(["--package", package]);
    }
    let compiled = compiled_by(&mut cargo);
    assert!(
        compiled.is_empty(),
        "`ci`'s test step ({}) compiled again what the test build had compiled: {}.\n\
         The packages it tests resolve other features than the whole workspace; compare \
         `cargo tree -e features` with `--package` for each of them against `--workspace` and \
         add the feature that differs to workspace-hack/Cargo.toml",
        config.ci.test.join(", "),
        compiled.join(", ")
    );
}

/// Cargo, as `cargo xtask` and `ci` run it, in the workspace; `None` (and says so) when this
/// test build is not the dev profile: only a dev-profile test build shares its dependencies
/// with those builds, and under another profile the check would compile everything and prove
/// nothing.
fn dev_profile_cargo() -> Option<Command> {
    let exe = std::env::current_exe().expect("this test binary");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    if profile != Some("debug") {
        eprintln!("SKIPPED: this test build is not the dev profile ({exe:?})");
        return None;
    }
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cargo.current_dir(tests::workspace());
    // As from a shell: without what cargo set for this test (ring's build script watches
    // CARGO_MANIFEST_DIR), which is what `ci` strips before it runs cargo too.
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(adapters::tools::set_by_cargo_for_one_crate)
        {
            cargo.env_remove(name);
        }
    }
    Some(cargo)
}

/// Runs the build and returns the packages of the artifacts it compiled (not fresh).
fn compiled_by(cargo: &mut Command) -> Vec<String> {
    let out = cargo
        .args(["--locked", "--message-format=json"])
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "{cargo:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (fresh, compiled) = artifacts(&String::from_utf8_lossy(&out.stdout));
    assert!(fresh > 100, "cargo reported {fresh} fresh artifacts");
    compiled
}

/// From cargo's JSON messages: how many artifacts were fresh, and the packages of those that
/// were compiled.
fn artifacts(messages: &str) -> (usize, Vec<String>) {
    let mut fresh = 0;
    let mut compiled = Vec::new();
    for line in messages.lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if message["fresh"] == true {
            fresh += 1;
        } else {
            compiled.push(message["package_id"].as_str().unwrap_or("?").to_owned());
        }
    }
    (fresh, compiled)
}
