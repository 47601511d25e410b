//! The committed GitHub workflows run against the committed configuration. Each workflow is
//! parsed, each step that runs `cargo xtask` gets the environment its job gives it (workflow,
//! job and step `env`, with the steps it reads outputs from really run), and `cargo xtask
//! lint` runs with exactly that environment, so a job that would stop with a usage error
//! (such as `PAKTECH_TARGET=aks` on a config without a registry host) fails here.
//! Also: the test step of a job sees no deploy settings, grype is pinned and checked, and the
//! jobs that read GitHub approvals may.
//!
//! Longer than 400 lines: one harness runs every step of every committed workflow with its job's
//! environment; the cases share it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tests::steps::{run_of, steps};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

/// What the repository variables hold in these runs (the others get `test-<NAME>`).
const ACR_LOGIN_SERVER: &str = "paktechacr.azurecr.io";

/// Settings that aim a command at a deployment, or carry its credentials.
const DEPLOY_SETTINGS: [&str; 9] = [
    "PAKTECH_TARGET",
    "PAKTECH_CONFIG",
    "PAKTECH_GITOPS_URL",
    "GITOPS_TOKEN",
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "REGISTRY_TOKEN",
    "SLACK_WEBHOOK_URL",
    "GITHUB_TOKEN",
];

fn workflows() -> Vec<(String, Value)> {
    let out = tests::workflows();
    assert!(out.len() >= 3, "{out:?}");
    out
}

fn jobs(workflow: &Value) -> Vec<(String, &Value)> {
    workflow["jobs"]
        .as_object()
        .expect("jobs")
        .iter()
        .map(|(name, job)| (name.clone(), job))
        .collect()
}

/// One job being "run": its workflow, its steps, and the outputs of steps run so far.
struct JobRun<'w> {
    workflow: &'w Value,
    job: &'w Value,
    runner_temp: PathBuf,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
}

impl<'w> JobRun<'w> {
    fn new(workflow: &'w Value, job: &'w Value, runner_temp: &Path) -> Self {
        Self {
            workflow,
            job,
            runner_temp: runner_temp.to_owned(),
            outputs: BTreeMap::new(),
        }
    }

    /// The value of one `${{ ... }}` expression; an expression this runner does not know
    /// fails the test, so nothing is silently taken as empty.
    fn expression(&mut self, expr: &str) -> String {
        let expr = expr.trim();
        if let Some(name) = expr.strip_prefix("vars.") {
            return match name {
                "ACR_LOGIN_SERVER" => ACR_LOGIN_SERVER.to_owned(),
                other => format!("test-{other}"),
            };
        }
        if let Some(name) = expr.strip_prefix("secrets.") {
            return format!("secret-{name}");
        }
        if expr.starts_with("inputs.") {
            return String::new();
        }
        if expr.starts_with("needs.") {
            return "1111111111111111111111111111111111111111".to_owned();
        }
        if expr == "github.token" {
            return "github-token".to_owned();
        }
        if expr == "runner.temp" {
            return self.runner_temp.display().to_string();
        }
        if let Some(rest) = expr.strip_prefix("steps.") {
            let (id, key) = rest
                .split_once(".outputs.")
                .expect("steps.<id>.outputs.<key>");
            return self.step_output(id, key);
        }
        panic!("an expression this test does not know: {expr}");
    }

    fn resolve(&mut self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            let value = self.expression(&rest[start + 3..end]);
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn env_of(&mut self, value: &Value) -> BTreeMap<String, String> {
        value
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), self.resolve(&text))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The environment `step` runs with: workflow, job and step `env`, in that order.
    fn environment(&mut self, step: &Value) -> BTreeMap<String, String> {
        let mut env = self.env_of(&self.workflow["env"].clone());
        env.extend(self.env_of(&self.job["env"].clone()));
        env.extend(self.env_of(&step["env"].clone()));
        env
    }

    /// An output of step `id`: a `run` step is run for real (bash, in the workspace, with its
    /// environment and `GITHUB_OUTPUT`); an action's output is a stand-in value.
    fn step_output(&mut self, id: &str, key: &str) -> String {
        if !self.outputs.contains_key(id) {
            let step = steps(self.job)
                .iter()
                .find(|s| s["id"].as_str() == Some(id))
                .unwrap_or_else(|| panic!("no step with id {id}"))
                .clone();
            let outputs = if step["uses"].is_string() {
                BTreeMap::from([(key.to_owned(), format!("output-{id}-{key}"))])
            } else {
                self.run_step(&step)
            };
            self.outputs.insert(id.to_owned(), outputs);
        }
        self.outputs[id]
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("step {id} sets no output {key}"))
    }

    fn run_step(&mut self, step: &Value) -> BTreeMap<String, String> {
        let env = self.environment(step);
        let output = self.runner_temp.join(format!("output-{}", rand_suffix()));
        std::fs::write(&output, "").expect("GITHUB_OUTPUT");
        let out = Command::new("bash")
            .args([
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                run_of(step),
            ])
            .current_dir(tests::workspace())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&env)
            .env("RUNNER_TEMP", &self.runner_temp)
            .env("GITHUB_OUTPUT", &output)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "step {:?} failed: {}",
            step["name"],
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&output)
            .expect("GITHUB_OUTPUT")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// gitops/ as the GitOps repository of a configuration holds it: each app's values files
/// name the app's repository there (`repositories`: app name and repository; the project's
/// values name each app's repository by the app's name).
fn gitops_for(repositories: &[(String, String)], to: &Path) {
    fn copy(from: &Path, to: &Path, repositories: &[(String, String)]) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy(&entry.path(), &target, repositories);
            } else {
                let text = std::fs::read_to_string(entry.path()).expect("read");
                let text = repositories.iter().fold(text, |text, (app, repository)| {
                    text.replace(
                        &format!("repository: \"{app}\""),
                        &format!("repository: \"{repository}\""),
                    )
                });
                std::fs::write(target, text).expect("write");
            }
        }
    }
    copy(&tests::workspace().join("gitops"), to, repositories);
}

/// Each app of the configuration at `config` with its repository; the project's own (each
/// app's repository is its name) when the configuration does not load.
fn repositories(config: &Path) -> Vec<(String, String)> {
    let load = |path: &Path| config::PipelineConfig::load_in(path, &tests::workspace());
    let config = load(config)
        .or_else(|_| load(&tests::workspace().join("pipeline.toml")))
        .expect("the project's pipeline.toml loads");
    config
        .apps
        .iter()
        .map(|a| (a.name.to_string(), a.repository.as_str().to_owned()))
        .collect()
}

/// `cargo xtask lint` with exactly `env` (and PATH), against the GitOps content the config
/// it selects names; returns (success, stderr).
fn lint(env: &BTreeMap<String, String>, scratch: &Path) -> (bool, String) {
    let config = env
        .get("PAKTECH_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| tests::workspace().join("pipeline.toml"));
    let gitops = scratch.join(format!("gitops-{}", rand_suffix()));
    gitops_for(&repositories(&config), &gitops);
    let out = Command::new(XTASK)
        .args(["lint", "--gitops"])
        .arg(&gitops)
        .current_dir(tests::workspace())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .output()
        .expect("run xtask");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_xtask_step_lints_clean_with_the_environment_its_job_gives_it() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut aks_steps = Vec::new();
    let mut failures = Vec::new();
    for (file, workflow) in workflows() {
        for (name, job) in jobs(&workflow) {
            let mut run = JobRun::new(&workflow, job, scratch.path());
            for step in steps(job) {
                if !run_of(step).contains("cargo xtask") {
                    continue;
                }
                let env = run.environment(step);
                let (ok, stderr) = lint(&env, scratch.path());
                let what = format!("{file} job {name} step {:?}", step["name"].as_str());
                if env.get("PAKTECH_TARGET").map(String::as_str) == Some("aks") {
                    aks_steps.push(what.clone());
                    // Whatever lint checks, a cluster pulls every app of the project from a
                    // registry the config names (each app in its own repository there).
                    let config = env
                        .get("PAKTECH_CONFIG")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| tests::workspace().join("pipeline.toml"));
                    let named = repositories(&config);
                    let expected: Vec<(String, String)> =
                        repositories(&tests::workspace().join("pipeline.toml"))
                            .into_iter()
                            .map(|(app, _)| {
                                let repository = format!("{ACR_LOGIN_SERVER}/{app}");
                                (app, repository)
                            })
                            .collect();
                    if named != expected {
                        failures.push(format!(
                            "{what}: {} names {named:?}, expected every app in the registry: {expected:?}",
                            config.display()
                        ));
                    }
                    if ok && !stderr.contains("agree") {
                        failures.push(format!("{what}: lint said nothing: {stderr}"));
                    }
                }
                if !ok {
                    failures.push(format!("{what}: {stderr}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // ci's deploy, promote's staging, prod and rollback.
    assert_eq!(aks_steps.len(), 4, "{aks_steps:#?}");
}

#[test]
fn the_aks_config_is_unusable_unfilled_and_refused_without_a_registry_host() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let aks = |config: &Path| {
        BTreeMap::from([
            ("PAKTECH_TARGET".to_owned(), "aks".to_owned()),
            ("PAKTECH_CONFIG".to_owned(), config.display().to_string()),
        ])
    };
    // The project's own pipeline.toml names no registry: a cluster target refuses it (exit 2).
    let (ok, stderr) = lint(
        &aks(&tests::workspace().join("pipeline.toml")),
        scratch.path(),
    );
    assert!(!ok && stderr.contains("needs a registry"), "{stderr}");
    // The template itself, unfilled, is not a valid config at all.
    let (ok, stderr) = lint(
        &aks(&tests::workspace().join("pipeline.aks.toml")),
        scratch.path(),
    );
    assert!(!ok, "{stderr}");
    // The fill-in script refuses an empty or odd registry host.
    for bad in ["", "https://x.azurecr.io", "x.azurecr.io/evil"] {
        let output = scratch.path().join("out");
        let out = Command::new("bash")
            .arg(".github/scripts/aks-config")
            .current_dir(tests::workspace())
            .env("ACR_LOGIN_SERVER", bad)
            .env("RUNNER_TEMP", scratch.path())
            .env("GITHUB_OUTPUT", &output)
            .output()
            .expect("bash");
        assert!(!out.status.success(), "accepted {bad:?}");
    }
}

/// Steps that run the test suite (`cargo xtask ci` without `--skip-tests`).
fn test_steps(job: &Value) -> Vec<&Value> {
    steps(job)
        .iter()
        .filter(|s| {
            let run = run_of(s);
            run.contains("cargo xtask ci") && !run.contains("--skip-tests")
        })
        .collect()
}

#[test]
fn the_test_step_of_every_job_sees_no_deploy_settings() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let mut checked = 0;
    for (file, workflow) in workflows() {
        for (name, job) in jobs(&workflow) {
            let mut run = JobRun::new(&workflow, job, scratch.path());
            for step in test_steps(job) {
                checked += 1;
                let env = run.environment(step);
                let leaked: Vec<&String> = env
                    .keys()
                    .filter(|k| DEPLOY_SETTINGS.contains(&k.as_str()))
                    .collect();
                assert!(
                    leaked.is_empty(),
                    "{file} job {name}: the test step sees {leaked:?}"
                );
                // Nor through GITHUB_ENV from an earlier step.
                for earlier in steps(job) {
                    if std::ptr::eq(earlier, step) {
                        break;
                    }
                    assert!(
                        !run_of(earlier).contains("GITHUB_ENV"),
                        "{file} job {name}: step {:?} writes GITHUB_ENV before the tests",
                        earlier["name"]
                    );
                }
            }
        }
    }
    // ci.yml: the pull-request job and the main job.
    assert_eq!(checked, 2);
}

/// A helper, not a test of its own: run as a child by the test below, with the deploy
/// settings in its environment and `CARGO` pointing at a script that records its own.
#[test]
fn run_tests_child() {
    if std::env::var_os("PAKTECH_RUN_TESTS_CHILD").is_none() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(adapters::tools::run_tests(
            &tests::workspace(),
            &["policy".to_owned()],
        ))
        .expect("run_tests");
}

#[test]
fn the_tests_ci_runs_do_not_inherit_deploy_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("env");
    let fake_cargo = dir.path().join("cargo");
    std::fs::write(
        &fake_cargo,
        format!(
            "#!/bin/sh\nenv > '{}'\necho \"args: $*\" >> '{}'\n",
            record.display(),
            record.display()
        ),
    )
    .expect("fake cargo");
    Command::new("chmod")
        .args(["+x"])
        .arg(&fake_cargo)
        .status()
        .expect("chmod");
    let mut child = Command::new(std::env::current_exe().expect("this test binary"));
    child
        .args(["--exact", "workflows::run_tests_child", "--nocapture"])
        .env("PAKTECH_RUN_TESTS_CHILD", "1")
        .env("CARGO", &fake_cargo)
        .env("PAKTECH_REQUIRE_DOCKER", "1");
    for name in DEPLOY_SETTINGS {
        child.env(name, "from-the-job");
    }
    let out = child.output().expect("child");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = std::fs::read_to_string(&record).expect("the fake cargo ran");
    for name in DEPLOY_SETTINGS {
        assert!(
            !seen.lines().any(|l| l.starts_with(&format!("{name}="))),
            "the tests saw {name}"
        );
    }
    // What cargo set for this test binary does not reach the build: ring's build script
    // watches CARGO_MANIFEST_DIR, and would be rerun (docs/architecture.md, "One build").
    assert!(
        !seen.lines().any(|l| l.starts_with("CARGO_MANIFEST_DIR=")),
        "the tests' build saw CARGO_MANIFEST_DIR"
    );
    // What the tests need still reaches them, and only the configured packages are tested.
    assert!(seen.contains("PAKTECH_REQUIRE_DOCKER=1"), "{seen}");
    assert!(
        seen.lines()
            .any(|l| l.ends_with("run --locked --package policy")
                || l == "args: test --locked --package policy"),
        "{seen}"
    );
}

fn grype_step(job: &Value) -> (usize, &Value) {
    steps(job)
        .iter()
        .enumerate()
        .find(|(_, s)| run_of(s).contains("anchore/grype/releases/download"))
        .expect("a step that installs grype")
}

#[test]
fn ci_installs_a_pinned_and_checked_grype_before_it_builds_and_scans() {
    let workflows = workflows();
    let ci = &workflows
        .iter()
        .find(|(f, _)| f == "ci.yml")
        .expect("ci.yml")
        .1;
    let main = &ci["jobs"]["main"];
    let (at, step) = grype_step(main);
    let version = step["env"]["GRYPE_VERSION"]
        .as_str()
        .expect("GRYPE_VERSION");
    let sha = step["env"]["GRYPE_SHA256"].as_str().expect("GRYPE_SHA256");
    tests::steps::assert_pinned(version, sha);
    let deploy = steps(main)
        .iter()
        .position(|s| run_of(s).contains("--skip-tests"))
        .expect("the deploy step");
    assert!(at < deploy, "grype must be on PATH before ci scans");
    assert!(!run_of(&steps(main)[deploy]).contains("--scan-report"));

    // Fail closed: with a download that is not the pinned archive, the step fails and puts
    // nothing on PATH.
    let scratch = tempfile::tempdir().expect("tempdir");
    let github_path = scratch.path().join("path");
    std::fs::write(&github_path, "").expect("GITHUB_PATH");
    let out = tests::steps::run_with_wrong_download(
        run_of(step),
        scratch.path(),
        &[
            ("GRYPE_VERSION", version),
            ("GRYPE_SHA256", sha),
            ("GITHUB_PATH", &github_path.display().to_string()),
        ],
        &[],
    );
    assert!(!out.status.success(), "a wrong archive was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did NOT match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&github_path).expect("read"), "");
}

#[test]
fn jobs_that_take_approvals_from_github_may_read_them() {
    let mut checked = 0;
    for (file, workflow) in workflows() {
        for (name, job) in jobs(&workflow) {
            for step in steps(job) {
                if !run_of(step).contains("--approval github") {
                    continue;
                }
                checked += 1;
                assert_eq!(
                    job["permissions"]["actions"].as_str(),
                    Some("read"),
                    "{file} job {name}"
                );
                assert_eq!(
                    step["env"]["GITHUB_TOKEN"].as_str(),
                    Some("${{ github.token }}"),
                    "{file} job {name}"
                );
            }
        }
    }
    assert_eq!(checked, 2, "promote.yml's staging and prod");
}
