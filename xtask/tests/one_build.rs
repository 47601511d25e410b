//! One build for the command line and the tests (docs/architecture.md, "One build"): after
//! the test build that runs this test, the build `cargo xtask` makes (`cargo run --package
//! xtask`) has nothing left to compile. Were the features the two resolve to differ, the first
//! command after `cargo nextest run` or `ci` would recompile rustls, kube and the workspace.

use std::path::Path;
use std::process::Command;

#[test]
fn the_command_line_build_compiles_nothing_after_the_test_build() {
    let exe = std::env::current_exe().expect("this test binary");
    // Only a test build made with the dev profile shares its dependencies with `cargo xtask`;
    // under another profile the check would compile everything and prove nothing.
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    if profile != Some("debug") {
        eprintln!("SKIPPED: this test build is not the dev profile ({exe:?})");
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut build = Command::new(&cargo);
    build
        .args([
            "build",
            "--package",
            "xtask",
            "--locked",
            "--message-format=json",
        ])
        .current_dir(tests::workspace());
    // As from a shell: without what cargo set for this test (ring's build script watches
    // CARGO_MANIFEST_DIR), which is what `ci` strips before it runs cargo too.
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(adapters::tools::set_by_cargo_for_one_crate)
        {
            build.env_remove(name);
        }
    }
    let out = build.output().expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build --package xtask failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (fresh, compiled) = artifacts(&String::from_utf8_lossy(&out.stdout));
    assert!(fresh > 100, "cargo reported {fresh} fresh artifacts");
    assert!(
        compiled.is_empty(),
        "`cargo xtask` compiled again what the test build had compiled: {}.\n\
         The command line resolves other features than the tests; compare \
         `cargo tree -p xtask -e normal,build -e features` with `cargo tree --workspace -e features` \
         and add the feature that differs to workspace-hack/Cargo.toml",
        compiled.join(", ")
    );
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
