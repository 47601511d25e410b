//! Shared helpers for whole-flow tests: finding the workspace, reaching the services a test
//! needs (see [`require`]: skip with a printed reason when one is absent, unless CI said it is
//! required, in which case the test fails instead), and cleaning up after Docker tests.

use std::path::PathBuf;

pub mod browser;
pub mod fake_cluster;
pub mod faulty;
pub mod image;
pub mod outage;
pub mod registry;
pub mod require;
pub mod sigstore;
pub mod steps;
pub mod terraform;
pub mod webhook;

mod approvals;
mod builds;
mod cleanup;
mod engine;
mod http;
mod pipelines;
mod progress;
mod yaml;

pub use require::{Service, require, required};
pub use webhook::webhook;

pub use approvals::*;
pub use builds::*;
pub use cleanup::*;
pub use engine::*;
pub use http::*;
pub use pipelines::*;
pub use progress::*;
pub use yaml::*;

/// The workspace root.
pub fn workspace() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The Docker engine, or `None` when it is absent and not required ([`require::skip_or_fail`]
/// decides).
pub async fn docker_or_skip(test: &str) -> Option<bollard::Docker> {
    require::docker(test).await
}

/// `shared/` beside the project (test data), or `None` when it is absent and not required
/// ([`require::skip_or_fail`] decides).
pub fn shared_or_skip(test: &str) -> Option<PathBuf> {
    require::shared(test)
}

/// A scratch GitOps remote: a bare repository seeded from the project's `gitops/` folder.
pub fn seeded_remote(dir: &std::path::Path) -> PathBuf {
    let bare = dir.join("gitops.git");
    adapters::gitops::seed_bare_repository(
        &bare,
        &workspace().join("gitops"),
        "main",
        ("seed", "seed@example.invalid"),
    )
    .expect("seed the GitOps remote");
    bare
}

/// Settings for a writer of `remote`.
pub fn gitops_settings(remote: &std::path::Path) -> adapters::gitops::GitOpsSettings {
    adapters::gitops::GitOpsSettings {
        url: remote.display().to_string(),
        branch: "main".to_owned(),
        author_name: "paktech-pipeline".to_owned(),
        author_email: "pipeline@paktech.invalid".to_owned(),
        push_attempts: 60,
        token: None,
    }
}

/// Runs the git CLI in `dir` and returns its stdout; panics when it fails.
pub fn git_cli(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The time whole-flow tests stand at unless they choose another: midday UTC, outside prod's
/// nightly deny window, so a run at 23:00 behaves as one at noon (`PAKTECH_NOW` for the
/// command line). Tests of the freeze set their own night-time clock.
pub const DAYTIME: &str = "2026-11-26T12:00:00Z";

/// A unique container-name prefix for one test.
pub fn unique_prefix(test: &str) -> String {
    format!("pt-{test}-{:06x}", rand::random::<u32>() & 0xff_ffff)
}

/// Commits `contents` at `path` to `remote`'s main branch the way a person would (a clone,
/// `git commit`, `git push`), and returns the new commit's id.
pub fn commit_by_hand(
    remote: &std::path::Path,
    path: &str,
    contents: &str,
    message: &str,
) -> String {
    let scratch = tempfile_in(remote);
    git_cli(
        remote.parent().unwrap_or(remote),
        &[
            "clone",
            "-q",
            remote.to_str().unwrap_or_default(),
            scratch.to_str().unwrap_or_default(),
        ],
    );
    std::fs::write(scratch.join(path), contents).expect("write");
    git_cli(
        &scratch,
        &[
            "-c",
            "user.name=person",
            "-c",
            "user.email=person@example.invalid",
            "commit",
            "-qam",
            message,
        ],
    );
    git_cli(&scratch, &["push", "-q", "origin", "main"]);
    let head = git_cli(&scratch, &["rev-parse", "HEAD"]).trim().to_owned();
    let _ = std::fs::remove_dir_all(&scratch);
    head
}

fn tempfile_in(remote: &std::path::Path) -> PathBuf {
    remote
        .parent()
        .unwrap_or(remote)
        .join(format!("hand-{:08x}", rand::random::<u32>()))
}

// Builds and records for promotion tests.

use adapters::gitops::Change;
use adapters::image::ImageBuilder;
use adapters::tools::AppProfile;
use bollard::Docker;
use flow::ci::{self, CiOptions};
use flow::image::{ImageRequest, build_tag};
use flow::{Pipeline, sync};
use model::audit::{CommitMessage, keys};
use model::report::Silent;
use model::values::Scalar;
use model::{EnvName, GitSha, ImageTag};

pub fn env(name: &str) -> EnvName {
    name.parse().expect("env")
}

/// `name`'s settings in `pipeline`, for a test to change.
pub fn env_mut<'p>(pipeline: &'p mut Pipeline, name: &str) -> &'p mut config::EnvironmentConfig {
    pipeline
        .config
        .environments
        .iter_mut()
        .find(|e| e.name.as_str() == name)
        .unwrap_or_else(|| panic!("no environment {name} in the test pipeline"))
}

/// Records, as a person with push access could, that `sha` passed through `env`.
pub fn pretend_it_ran(pipeline: &Pipeline, env_name: &str, sha: &GitSha, digest: &str) {
    pipeline
        .gitops
        .write(&Change::one(
            pipeline.config.values_path(&app(), &env(env_name)),
            vec![
                ("image.tag".to_owned(), Scalar::str(sha.as_str())),
                ("image.digest".to_owned(), Scalar::str(digest)),
            ],
            None,
            CommitMessage::new(format!("chore({env_name}): promote by hand"))
                .trailer(keys::ACTION, "promote")
                .trailer(keys::IMAGE_SHA, sha.as_str()),
        ))
        .expect("write");
}

/// Records, as `ci` or a person with push access could, that `env` runs each app's build,
/// in one commit: what a release or a `ci` of several apps writes.
pub async fn pretend_they_ran(pipeline: &Pipeline, env_name: &str, builds: &[(&str, &GitSha)]) {
    let mut digests = Vec::new();
    for (app, sha) in builds {
        digests.push(digest_of_app(pipeline, app, sha).await);
    }
    let recorded: Vec<model::audit::Build<'_>> = builds
        .iter()
        .zip(&digests)
        .map(|((app, sha), digest)| model::audit::Build {
            app,
            sha: sha.as_str(),
            digest,
        })
        .collect();
    let change = adapters::gitops::Change {
        files: builds
            .iter()
            .zip(&digests)
            .map(|((app, sha), digest)| adapters::gitops::FileEdit {
                path: pipeline
                    .config
                    .values_path(&app.parse().expect("app"), &env(env_name)),
                set: vec![
                    ("image.tag".to_owned(), Scalar::str(sha.as_str())),
                    ("image.digest".to_owned(), Scalar::str(digest)),
                ],
                planned_from: None,
            })
            .collect(),
        message: CommitMessage::new(format!("chore({env_name}): promote by hand"))
            .trailer(keys::ACTION, "promote")
            .builds(&recorded),
    };
    pipeline.gitops.write(&change).expect("write");
}

/// The digest of `app`'s build `sha` in the registry.
pub async fn digest_of_app(pipeline: &Pipeline, app: &str, sha: &GitSha) -> String {
    pipeline
        .registry
        .digest(
            &pipeline
                .config
                .app(app)
                .expect("a configured app")
                .repository,
            sha.as_str(),
        )
        .await
        .expect("registry")
        .expect("image")
        .to_string()
}

pub async fn digest_of(pipeline: &Pipeline, sha: &GitSha) -> String {
    pipeline
        .registry
        .digest(
            &pipeline.config.app(APP).expect("paktech-app").repository,
            sha.as_str(),
        )
        .await
        .expect("registry")
        .expect("image")
        .to_string()
}

/// The local target of a test pipeline (every whole-flow test here runs on Docker).
pub fn local(pipeline: &Pipeline) -> &adapters::target::LocalTarget {
    pipeline
        .target
        .as_local()
        .expect("test pipelines use the local target")
}

/// A reporter that tells the test the moment a step starts, so a fault can be injected on the
/// event it is meant for (prod's watch beginning, say) rather than after a guessed sleep.
#[derive(Debug)]
pub struct OnStart {
    step: String,
    started: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl OnStart {
    /// The reporter, and what resolves when `step` starts (an error when the flow ended before).
    pub fn new(step: &str) -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reporter = Self {
            step: step.to_owned(),
            started: std::sync::Mutex::new(Some(tx)),
        };
        (reporter, rx)
    }
}

impl model::report::Reporter for OnStart {
    fn event(&self, event: model::report::Event) {
        if matches!(&event, model::report::Event::Started { step } if *step == self.step)
            && let Some(tx) = self
                .started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
        {
            let _ = tx.send(());
        }
    }
}

/// The message of the newest commit to prod's values file in the test's GitOps remote
/// (`dir/gitops.git`).
pub fn last_prod_commit(dir: &std::path::Path, pipeline: &Pipeline) -> String {
    git_cli(
        &dir.join("gitops.git"),
        &[
            "log",
            "-1",
            "--format=%B",
            "main",
            "--",
            &pipeline.config.values_path(&app(), &env("prod")),
        ],
    )
}

/// Asserts that every replica prod has answers and runs `sha`.
pub async fn prod_runs(pipeline: &Pipeline, sha: &GitSha) {
    let probes = pipeline
        .target
        .probe(&app(), &env("prod"))
        .await
        .expect("probe");
    assert!(
        !probes.is_empty() && probes.iter().all(|(_, p)| p.runs(sha.as_str())),
        "{probes:?}"
    );
}

/// The Slack posts a [`webhook`] received, as text.
pub fn posted(posts: &std::sync::Mutex<Vec<serde_json::Value>>) -> Vec<String> {
    posts
        .lock()
        .expect("posts")
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Whether prod's history has a rollback whose detail mentions `needle`.
pub async fn prod_rollback_says(pipeline: &Pipeline, needle: &str) -> bool {
    let events = flow::history::history(pipeline, Some("prod"), &[], 10)
        .await
        .expect("history");
    events
        .iter()
        .any(|e| e.action == "rollback" && e.detail.contains(needle))
}

/// Analysis thresholds for the seconds-long windows of the whole-flow tests: 5% errors, p99
/// 250ms, at least 20 requests, 3× the previous build's p99. No error-ratio comparison with
/// the previous build: catching a doubled error ratio takes about 2,000 requests a window
/// (the plan refuses a window that cannot hold them), more than these windows get; its error
/// rates are `cargo xtask bench analysis`'s to check.
pub fn test_analysis(
    inconclusive: policy::analysis::Inconclusive,
    load_rate: Option<f64>,
) -> config::AnalysisConfig {
    config::AnalysisConfig {
        max_error_ratio: 0.05,
        max_p99: std::time::Duration::from_millis(250),
        min_requests: 20,
        baseline_error_factor: None,
        baseline_p99_factor: Some(3.0),
        inconclusive,
        load_rate,
    }
}

/// Runs `command`; whether it succeeded, and what it printed (stdout, then stderr).
///
/// # Panics
/// When the program cannot be started.
pub fn output_of(command: &mut std::process::Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
