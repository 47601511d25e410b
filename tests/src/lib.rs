//! Shared helpers for whole-flow tests: finding the workspace, reaching the services a test
//! needs (see [`require`]: skip with a printed reason when one is absent, unless CI said it is
//! required, in which case the test fails instead), and cleaning up after Docker tests.

use std::path::PathBuf;

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

pub use require::{Service, require, required};
pub use webhook::webhook;

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

/// A pipeline for whole-flow tests of one app: the project's `pipeline.toml` with its first
/// app, paktech-app, alone, a fresh seeded GitOps remote under `dir`, and containers named
/// with `prefix` so tests never touch the developer's own environments.
pub fn test_pipeline(
    dir: &std::path::Path,
    docker: bollard::Docker,
    prefix: &str,
) -> flow::Pipeline {
    let mut pipeline = test_pipeline_of(dir, docker, prefix, &[APP]);
    // Written in the one-app form (`[app]` and `[image]`), as a configuration from before
    // apps: the one-app tests are also the proof that it keeps working unchanged.
    pipeline.config = one_app_form(&pipeline.config);
    pipeline
}

/// The project's `pipeline.toml` in the one-app form (paktech-app alone, as `[app]` and
/// `[image]`), written to `dir`, for `PAKTECH_CONFIG` in command-line tests of one app.
pub fn one_app_config(dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("pipeline.toml")).expect("pipeline.toml");
    let path = dir.join("one-app.toml");
    std::fs::write(&path, one_app_text(&text)).expect("write the one-app configuration");
    path
}

/// `text` (a `pipeline.toml`) with its `[[apps]]` replaced by paktech-app in the one-app form.
fn one_app_text(text: &str) -> String {
    let (head, rest) = text
        .split_once("[[apps]]")
        .expect("[[apps]] in pipeline.toml");
    let (_, tail) = rest
        .split_once("[gitops]")
        .expect("[gitops] after the apps");
    format!("{head}[app]\nname = \"{APP}\"\n[image]\nrepository = \"{APP}\"\n\n[gitops]{tail}")
}

/// `config`'s environments and settings, with paktech-app declared in the one-app form.
pub fn one_app_form(config: &config::PipelineConfig) -> config::PipelineConfig {
    let text = std::fs::read_to_string(workspace().join("pipeline.toml")).expect("pipeline.toml");
    let legacy = one_app_text(&text);
    let mut parsed =
        config::PipelineConfig::parse_in(&workspace().join("pipeline.toml"), &legacy, &workspace())
            .expect("the one-app form parses");
    assert!(
        parsed.apps.len() == 1 && parsed.apps[0].paths == ["."],
        "one app, rebuilt on any change"
    );
    // Whatever the test changed in the configuration it started from carries over.
    parsed.apps[0].repository = config.apps[0].repository.clone();
    parsed.environments = config.environments.clone();
    parsed.supply_chain = config.supply_chain.clone();
    parsed
}

/// The app the one-app whole-flow tests deliver.
pub const APP: &str = "paktech-app";

/// The app as a name.
pub fn app() -> model::AppName {
    APP.parse().expect("app")
}

/// [`test_pipeline`] delivering `apps` of the project's `pipeline.toml`.
pub fn test_pipeline_of(
    dir: &std::path::Path,
    docker: bollard::Docker,
    prefix: &str,
    apps: &[&str],
) -> flow::Pipeline {
    let mut config =
        config::PipelineConfig::load(&workspace().join("pipeline.toml")).expect("pipeline.toml");
    config.apps.retain(|a| apps.contains(&a.name.as_str()));
    without_supply_chain(&mut config);
    let remote = seeded_remote(dir);
    let gitops =
        adapters::gitops::GitOpsRepo::open(gitops_settings(&remote), &dir.join("mirror.git"))
            .expect("open");
    flow::Pipeline {
        workspace: workspace(),
        config,
        gitops,
        target: adapters::target::Target::Local(adapters::target::LocalTarget::new(
            docker.clone(),
            prefix,
        )),
        images: Some(adapters::image::ImageBuilder::new(docker.clone())),
        slack: None,
        registry: adapters::registry::Registry::Engine(docker),
        attachments: adapters::attachments::Attachments::Local(
            adapters::attachments::LocalAttachments::new(dir.join("attachments")),
        ),
        clock: flow::Clock::Fixed(DAYTIME.parse().expect("DAYTIME")),
        signing_key: None,
    }
}

/// `config` with no environment requiring a signature, an SBOM or provenance: the whole-flow tests of
/// the other gates promote builds they make without a signing key. The supply-chain gate has
/// its own tests (`tests/supply_chain.rs`), which set the requirements back.
pub fn without_supply_chain(config: &mut config::PipelineConfig) {
    config.supply_chain.require_signature = false;
    config.supply_chain.require_sbom = false;
    config.supply_chain.require_provenance = false;
    for env in &mut config.environments {
        env.require_signature = None;
        env.require_sbom = None;
        env.require_provenance = None;
    }
}

/// The project's `pipeline.toml`, written to `dir` with no environment requiring a signature,
/// an SBOM or provenance ([`without_supply_chain`]), for `PAKTECH_CONFIG` in command-line tests; its key
/// paths still resolve in the workspace.
pub fn config_without_supply_chain(dir: &std::path::Path) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("pipeline.toml")).expect("pipeline.toml");
    let relaxed = text
        .replace("require_signature = true", "require_signature = false")
        .replace("require_sbom = true", "require_sbom = false")
        .replace("require_provenance = true", "require_provenance = false");
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, relaxed).expect("write pipeline.toml");
    path
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

/// Runs `ci` and returns a build that may be promoted: the commit's own, or (on a dirty
/// developer tree, whose `<sha>-dirty` build promotion refuses) a real build of a made-up
/// commit recorded as having passed dev.
pub async fn deploy_dev(pipeline: &Pipeline, docker: &Docker) -> GitSha {
    let options = CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("ci".parse().expect("person"), "run-1")
    };
    let (report, error) = ci::run(pipeline, &options, &Silent).await;
    assert!(error.is_none(), "ci failed: {error:?}");
    let tag = report.image.expect("image").tag;
    if !tag.is_dirty() {
        return tag.sha().clone();
    }
    let sha = another_build(pipeline, docker, None).await;
    let digest = digest_of(pipeline, &sha).await;
    pretend_it_ran(pipeline, "dev", &sha, &digest);
    sync::sync_env(pipeline, pipeline.config.first(), None, &Silent)
        .await
        .expect("dev runs the made-up commit's build");
    sha
}

/// A real build of a made-up commit: the app compiled to report that SHA, or, with
/// `broken_from`, that build with an invalid PORT baked into its configuration, so its
/// replicas never become healthy. Compiled with the `image-test` profile (release without
/// LTO, incremental): a new SHA recompiles the app crate alone and relinks in seconds, and
/// the commit's own release build stays fresh for the next `ci`.
pub async fn another_build(
    pipeline: &Pipeline,
    docker: &Docker,
    broken_from: Option<&GitSha>,
) -> GitSha {
    let sha: GitSha = format!("{:040x}", rand::random::<u128>())
        .parse()
        .expect("sha");
    let images = ImageBuilder::new(docker.clone());
    match broken_from {
        Some(from) => {
            images
                .derive(
                    &format!("paktech-app:{from}"),
                    &format!("paktech-app:{sha}"),
                    &["ENV PORT=not-a-port"],
                )
                .await
                .expect("build the broken image");
        }
        None => {
            // Another test may be building a faulty app into the same target directory.
            let _lock = faulty::BuildLock::take().await;
            build_sources(pipeline, docker, workspace(), &sha).await;
        }
    }
    sha
}

/// Builds the app sources under `sources` (a workspace) as the image of `sha`, with the
/// `image-test` profile; the caller holds [`faulty::BuildLock`].
pub async fn build_sources(pipeline: &Pipeline, docker: &Docker, sources: PathBuf, sha: &GitSha) {
    build_sources_of(pipeline, docker, sources, APP, sha).await;
}

/// Builds `app`'s sources under `sources` as the image of `sha` (see [`build_sources`]).
pub async fn build_sources_of(
    pipeline: &Pipeline,
    docker: &Docker,
    sources: PathBuf,
    app: &str,
    sha: &GitSha,
) {
    let app = pipeline.config.app(app).expect("a configured app");
    let dockerfile = match app.name.as_str() {
        "paktech-gateway" => "gateway/Dockerfile",
        _ => "app/Dockerfile",
    };
    let request = ImageRequest {
        workspace: sources,
        package: app.package().to_owned(),
        dockerfile: dockerfile.into(),
        repository: app.repository.clone(),
        version: "0.1.0".to_owned(),
        source_url: "https://example.invalid/paktech".to_owned(),
        allow_dirty: true,
    };
    build_tag(
        &request,
        ImageTag::clean(sha.clone()),
        1_700_000_000,
        AppProfile::ImageTest,
        &ImageBuilder::new(docker.clone()),
        &Silent,
    )
    .await
    .expect("build");
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

/// The committed GitHub workflows (`.github/workflows/*.yml`), by file name, as JSON values.
pub fn workflows() -> Vec<(String, serde_json::Value)> {
    yaml_files(&workspace().join(".github/workflows"))
}

/// The first document of every `.yml`/`.yaml` file of `dir`, by file name, sorted.
pub fn yaml_files(dir: &std::path::Path) -> Vec<(String, serde_json::Value)> {
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x == "yml" || x == "yaml")
        })
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("YAML file");
            let name = e.file_name().to_string_lossy().into_owned();
            (name, yaml_documents(&text).remove(0))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every document of a YAML stream, as JSON values (for schema checks and assertions).
pub fn yaml_documents(text: &str) -> Vec<serde_json::Value> {
    use saphyr::LoadableYamlNode;
    saphyr::Yaml::load_from_str(text)
        .expect("valid YAML")
        .iter()
        .map(yaml_to_json)
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_to_json(node: &saphyr::Yaml<'_>) -> serde_json::Value {
    use saphyr::{Scalar, Yaml};
    use serde_json::Value;
    match node {
        Yaml::Value(Scalar::Null) | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
        Yaml::Value(Scalar::FloatingPoint(f)) => Value::from(f.into_inner()),
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Representation(s, ..) => Value::String(s.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match yaml_to_json(k) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(_, inner) => yaml_to_json(inner),
    }
}

/// One canned HTTP answer of a stand-in server.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status line after `HTTP/1.1 `, such as `200 OK`.
    pub status: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A stand-in HTTP peer on 127.0.0.1 (a registry, an API server, Slack): each request's
/// first line (`GET /path HTTP/1.1`) is handed to `answer`, one request per connection.
/// Returns the port; the server lives as long as the runtime.
pub async fn http_stand_in(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = std::sync::Arc::clone(&answer);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let Answer {
                    status,
                    headers,
                    body,
                } = answer(request.lines().next().unwrap_or_default());
                let mut head = format!("HTTP/1.1 {status}\r\n");
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            });
        }
    });
    port
}

/// An HTTP server on 127.0.0.1 that answers every request with a bodiless 500 (a failing
/// registry, Slack or any other peer); returns its port. It lives as long as the runtime.
pub async fn failing_http_server() -> u16 {
    http_stand_in(|_| Answer {
        status: "500 Internal Server Error",
        headers: Vec::new(),
        body: String::new(),
    })
    .await
}

/// The local target of a test pipeline (every whole-flow test here runs on Docker).
pub fn local(pipeline: &Pipeline) -> &adapters::target::LocalTarget {
    pipeline
        .target
        .as_local()
        .expect("test pipelines use the local target")
}

/// Records that `requester` asked to promote `sha` to `env_name` (as `promote` does when it
/// reaches the approval gate) and that `approver` approved it through `approve`.
pub async fn request_and_approve(
    pipeline: &Pipeline,
    env_name: &str,
    sha: &GitSha,
    requester: &str,
    approver: &str,
) {
    pipeline
        .records()
        .add_request(&model::PromotionRequest {
            builds: Vec::new(),
            sha: sha.clone(),
            env: env(env_name),
            requester: requester.parse().expect("requester"),
            at: DAYTIME.parse().expect("time"),
            run_id: "run-request".to_owned(),
        })
        .expect("request");
    flow::approve::approve(
        pipeline,
        &env(env_name),
        sha,
        &approver.parse().expect("approver"),
        None,
    )
    .await
    .expect("approve");
}

/// Puts `sha` through staging (as if promoted there) and prod's approval (alice asks, bob
/// approves), then promotes it to prod as alice, watched for `monitor`; prints the steps as a
/// person running `promote` reads them.
pub async fn approved_to_prod(
    pipeline: &Pipeline,
    sha: &GitSha,
    monitor: std::time::Duration,
    run_id: &str,
    reporter: &dyn model::report::Reporter,
) -> (flow::promote::PromoteReport, Option<flow::Error>) {
    use flow::promote::{self, ApprovalMode, PromoteOptions};
    let digest = digest_of(pipeline, sha).await;
    pretend_it_ran(pipeline, "staging", sha, &digest);
    request_and_approve(pipeline, "prod", sha, "alice", "bob").await;
    let options = PromoteOptions {
        env: env("prod"),
        apps: Vec::new(),
        sha: Some(sha.clone()),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: run_id.to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(monitor),
    };
    let (report, error) = promote::run(pipeline, &options, reporter).await;
    for step in &report.steps {
        eprintln!("[{:?}] {}: {}", step.outcome, step.step, step.detail);
    }
    if let Some(error) = &error {
        eprintln!("error: {error}");
    }
    (report, error)
}

/// Removes every container and network whose name starts with its prefix when dropped, so a
/// test that panics half-way leaves nothing running on the engine. Hold one for the whole test:
/// `let _cleanup = tests::Cleanup::new(&prefix);`.
#[derive(Debug)]
pub struct Cleanup {
    prefix: String,
}

impl Cleanup {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        // A runtime and a client of its own, on a thread of its own: a drop cannot await, and
        // the test's runtime may be the very thread this runs on.
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(remove_named(&prefix));
        })
        .join();
    }
}

/// Force-removes the containers, then the networks, named `<prefix>…`.
async fn remove_named(prefix: &str) {
    use bollard::query_parameters::{
        ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
    };
    let Ok(docker) = adapters::docker::connect().await else {
        return;
    };
    let filters = std::collections::HashMap::from([("name", vec![prefix.to_owned()])]);
    let ours = |name: &str| name.trim_start_matches('/').starts_with(prefix);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap_or_default();
    for container in containers {
        let Some(name) = container
            .names
            .unwrap_or_default()
            .into_iter()
            .find(|n| ours(n))
        else {
            continue;
        };
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = docker
            .remove_container(name.trim_start_matches('/'), Some(options))
            .await;
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .unwrap_or_default();
    for network in networks {
        if let (Some(id), Some(name)) = (network.id, network.name)
            && ours(&name)
        {
            let _ = docker.remove_network(&id).await;
        }
    }
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
