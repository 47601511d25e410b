//! Workflow steps as tests read them, and those that download a pinned release: the pin's shape, and the
//! step run by bash as GitHub Actions runs it (`bash --noprofile --norc -eo pipefail`), with a
//! `curl` that hands over something else than the release, to show it fails closed.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The steps of a job (or of a composite action's `runs`), as parsed from YAML.
pub fn steps(job: &Value) -> &[Value] {
    job["steps"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// A step's `run:` script ("" for a step that uses an action).
pub fn run_of(step: &Value) -> &str {
    step["run"].as_str().unwrap_or_default()
}

/// A pinned version is `x.y.z` and a pinned digest 64 lowercase hex digits.
pub fn assert_pinned(version: &str, sha256: &str) {
    assert!(
        version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()),
        "version {version}"
    );
    assert!(
        sha256.len() == 64
            && sha256
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "sha256 {sha256}"
    );
}

/// Runs `script` with `envs`, `RUNNER_TEMP` set to `scratch`, and on PATH first a fake `curl`
/// that writes "not the release" wherever `-o` points, and the programs of `fakes` (name,
/// shell script).
pub fn run_with_wrong_download(
    script: &str,
    scratch: &Path,
    envs: &[(&str, &str)],
    fakes: &[(&str, &str)],
) -> Output {
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let curl = "#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ \"$1\" = -o ]; then echo 'not the release' > \"$2\"; fi; shift; done\n";
    for (name, text) in [("curl", curl)].iter().chain(fakes) {
        let path = bin.join(name);
        std::fs::write(&path, text).expect("fake program");
        let status = Command::new("chmod")
            .arg("+x")
            .arg(&path)
            .status()
            .expect("chmod");
        assert!(status.success());
    }
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .envs(envs.iter().copied())
        .env("RUNNER_TEMP", scratch)
        .output()
        .expect("bash")
}
