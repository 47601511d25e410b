//! `cargo xtask e2e --target kind|aks`: the whole delivery of every app on a real cluster,
//! through the real command line, checking each step: ci (every app) → promote staging → an
//! approval gate on the release → promote prod → a bad release of the first app that prod
//! rejects → an automatic rollback → the bad build blocked. In each environment, every app
//! runs the build git names, and an app that depends on another (paktech-gateway on
//! paktech-app) answers `GET /` through its Service with the build of the app it calls.
//!
//! `--target kind` first brings the kind cluster up (`cargo xtask cluster up`). When kind,
//! kubectl, git or the Docker engine is missing it skips with the reason, unless
//! `PAKTECH_REQUIRE_KIND=1` makes that a failure. `--target aks` runs against the current
//! kubeconfig context with the caller's `PAKTECH_CONFIG` (an ACR repository and the GitOps
//! repository Argo CD reads), after `cargo xtask infra apply` and the bootstrap.

use std::time::Instant;

use ::supply_chain::cosign::{PublicKey, SigningKey};
use adapters::attachments::Attachments;
use adapters::gitops::{Change, GitOpsRepo};
use adapters::image::ImageBuilder;
use adapters::registry::{Credentials, Registry};
use adapters::tools;
use anyhow::{Context, bail};
use config::{AppConfig, PipelineConfig};
use model::audit::{CommitMessage, keys};
use model::values::Scalar;
use model::{AppName, EnvName, GitSha, SignatureLayer};
use serde_json::Value;

use crate::{self as cluster, Kind};
use context::errors::Usage;
use context::{TargetKind, workspace};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Delete the kind cluster afterwards.
    #[arg(long)]
    down: bool,
}

/// Whether the named variable says the run must not skip (`1`, `true` or `yes`).
fn required(variable: &str) -> bool {
    matches!(std::env::var(variable).as_deref(), Ok("1" | "true" | "yes"))
}

impl Args {
    pub async fn run(self, _json: bool) -> anyhow::Result<()> {
        let scenario = match context::selected_target() {
            TargetKind::Local => {
                return Err(Usage(
                    "e2e drives a cluster: pass --target kind (a local kind cluster) or --target aks (the current kubeconfig context)".to_owned(),
                )
                .into());
            }
            TargetKind::Kind => {
                if let Some(why) = kind_unavailable().await {
                    if required("PAKTECH_REQUIRE_KIND") {
                        bail!(
                            "PAKTECH_REQUIRE_KIND is set but the kind end-to-end run cannot start: {why}"
                        );
                    }
                    eprintln!(
                        "SKIPPED e2e --target kind: {why}; set PAKTECH_REQUIRE_KIND=1 to make this a failure"
                    );
                    return Ok(());
                }
                let kind = Kind::new();
                kind.forget_gitops()?;
                let up = kind.up().await?;
                // A key for this run: ci signs with it, and the cluster's pipeline.toml lists
                // its public half, so prod's supply-chain gate passes what ci built.
                let key = SigningKey::generate();
                trust_key(&up.config, &key.public_key())?;
                let config = PipelineConfig::load_in(&up.config, &workspace::root())?;
                std::fs::create_dir_all(&up.state)
                    .with_context(|| format!("cannot create {}", up.state.display()))?;
                // The commands' own state folder (PAKTECH_STATE_DIR below), so one mirror.
                let gitops = context::gitops_in(&config, &up.state)?;
                Scenario {
                    target: "kind",
                    envs: vec![
                        ("PAKTECH_CONFIG", up.config.display().to_string()),
                        ("PAKTECH_STATE_DIR", up.state.display().to_string()),
                        ("PAKTECH_SIGNING_KEY", key.to_pem().expose().to_owned()),
                    ],
                    gitops,
                    config,
                    signing_key: Some(key),
                }
            }
            TargetKind::Aks => {
                let config = context::load_config()?;
                Scenario {
                    target: "aks",
                    envs: Vec::new(),
                    gitops: context::gitops(&config)?,
                    config,
                    // What ci signs with there (PAKTECH_SIGNING_KEY or _FILE).
                    signing_key: context::signing_key()?,
                }
            }
        };
        let result = scenario.run().await;
        if self.down && context::selected_target() == TargetKind::Kind {
            Kind::new().down().await?;
        }
        result
    }
}

/// Adds `key` to `[supply_chain] public_keys` of the pipeline.toml at `path`, inline.
fn trust_key(path: &std::path::Path, key: &PublicKey) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let line = "public_keys = [\"keys/cosign.pub\"]";
    if !text.contains(line) {
        bail!("{}: expected the line {line}", path.display());
    }
    let trusted = text.replace(
        line,
        &format!(
            "public_keys = [\"keys/cosign.pub\", \"\"\"{}\"\"\"]",
            key.to_pem()
        ),
    );
    std::fs::write(path, trusted).with_context(|| format!("cannot write {}", path.display()))
}

/// Why the kind run cannot start here, if it cannot.
async fn kind_unavailable() -> Option<String> {
    if let Some(missing) = cluster::missing_tools() {
        return Some(missing);
    }
    adapters::docker::connect()
        .await
        .err()
        .map(|e| e.to_string())
}

/// The run, as commands of this same binary with the target's settings.
struct Scenario {
    target: &'static str,
    envs: Vec<(&'static str, String)>,
    /// The target's pipeline.toml, and its GitOps repository (for the hand-made hotfix).
    config: PipelineConfig,
    gitops: GitOpsRepo,
    /// The key ci signs with in this run: the bad release is signed with it too, so that
    /// prod's supply-chain gate lets it through to the watch that must reject it.
    signing_key: Option<SigningKey>,
}

/// What one command did.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Scenario {
    async fn xtask(&self, args: &[&str]) -> anyhow::Result<Ran> {
        let exe = std::env::current_exe().context("cannot find this program")?;
        eprintln!(
            "e2e: cargo xtask {} --target {}",
            args.join(" "),
            self.target
        );
        let out = tokio::process::Command::new(exe)
            .args(args)
            .args(["--target", self.target])
            .envs(self.envs.iter().map(|(k, v)| (*k, v.as_str())))
            .env("GITHUB_ACTOR", "e2e-requester")
            .current_dir(workspace::root())
            .output()
            .await
            .context("cannot run cargo xtask")?;
        Ok(Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs a command that must exit with `code`.
    async fn expect(&self, args: &[&str], code: i32) -> anyhow::Result<Ran> {
        let ran = self.xtask(args).await?;
        if ran.code != code {
            bail!(
                "`cargo xtask {}` exited {}, expected {code}:\n{}",
                args.join(" "),
                ran.code,
                ran.stderr.trim()
            );
        }
        Ok(ran)
    }

    /// The builds `app` runs in `env`, and how many replicas serve the build git names.
    async fn running(&self, app: &str, env: &str) -> anyhow::Result<(Vec<String>, u64, u64)> {
        let ran = self.expect(&["status", "--json"], 0).await?;
        let status: Value = serde_json::from_str(&ran.stdout).context("status --json")?;
        let entry = status_entry(&status, app, env)
            .with_context(|| format!("status --json has no {app} in {env}"))?;
        let shas = entry["running_shas"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok((
            shas,
            entry["ready"].as_u64().unwrap_or_default(),
            entry["desired_replicas"].as_u64().unwrap_or_default(),
        ))
    }

    /// `app` runs only `sha` in `env`, on every replica its values ask for.
    async fn check_runs(&self, app: &str, env: &str, sha: &str) -> anyhow::Result<()> {
        let (shas, ready, desired) = self.running(app, env).await?;
        if shas != [sha] || ready < desired || desired == 0 {
            bail!(
                "{app} in {env} should run {sha} on {desired} replica(s); it runs {shas:?} with {ready} ready"
            );
        }
        eprintln!("e2e: ok: {app} in {env} runs {sha} on {ready} replica(s)");
        Ok(())
    }

    /// In `env`, every app runs the build `builds` names for it, and every app that calls
    /// another answers through its Service with that app's build ([`Self::check_calls`]).
    async fn check_release(&self, env: &str, builds: &[(&str, &str)]) -> anyhow::Result<()> {
        for (app, sha) in builds {
            self.check_runs(app, env, sha).await?;
        }
        for app in &self.config.apps {
            if let [upstream] = app.depends_on.as_slice() {
                let expected = builds
                    .iter()
                    .find(|(name, _)| *name == upstream.as_str())
                    .map(|(_, sha)| *sha)
                    .with_context(|| format!("no build of {upstream} expected in {env}"))?;
                self.check_calls(app, upstream, env, expected).await?;
            }
        }
        Ok(())
    }

    /// `app`'s `GET /`, through its Service by the API server's service proxy, names the build
    /// of `upstream` it reached (paktech-gateway answers with paktech-app's `/info` under
    /// `upstream`): the call crossed the namespace's Services and network policies.
    async fn check_calls(
        &self,
        app: &AppConfig,
        upstream: &AppName,
        env: &str,
        expected: &str,
    ) -> anyhow::Result<()> {
        let namespace = &self.config.environment(env)?.namespace;
        let path = service_proxy_path(namespace.as_str(), app.name.as_str());
        let mut args = Vec::new();
        if self.target == "kind" {
            args.extend(["--context", context::KIND_CONTEXT]);
        }
        args.extend(["get", "--raw", path.as_str()]);
        let body = tools::run("kubectl", &args, b"")
            .await
            .with_context(|| format!("{} in {env}: GET / through its Service", app.name))?;
        let reached = upstream_build(&body)
            .with_context(|| format!("{} in {env} answered GET / with {body}", app.name))?;
        if reached != expected {
            bail!(
                "{} in {env} reached {upstream} running {reached}, expected {expected}",
                app.name
            );
        }
        eprintln!(
            "e2e: ok: {} in {env} reaches {upstream} running {reached}",
            app.name
        );
        Ok(())
    }

    async fn run(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let head = head()?;

        // Every app is built from this checkout: each runs `head` once delivered.
        let apps: Vec<&str> = self.config.apps.iter().map(|a| a.name.as_str()).collect();
        let all_at_head: Vec<(&str, &str)> = apps.iter().map(|a| (*a, head.as_str())).collect();
        // The first app (the one the others depend on) gets the bad release below.
        let bad_app = self
            .config
            .apps
            .first()
            .context("no app configured")?
            .clone();

        // ci: test (skipped: the suite that runs this already tests), build and push every
        // app, write dev for all of them.
        self.expect(&["ci", "--skip-tests"], 0).await?;
        self.check_release("dev", &all_at_head).await?;

        self.expect(&["promote", "--env", "staging"], 0).await?;
        self.check_release("staging", &all_at_head).await?;

        // Inside prod's deny window Argo CD runs only manual syncs: the run passes it as an
        // on-call person would, recorded.
        // Watched long enough for prod's analysis to reach its minimum at the pod proxy's
        // load bound (the plan refuses a shorter window, exit 2), and at least 30s.
        let window = prod_window(&self.config)?;
        let mut prod = vec!["promote", "--env", "prod", "--monitor", window.as_str()];
        if prod_frozen()? {
            prod.extend([
                "--break-glass",
                "--reason",
                "e2e run inside the deny window",
            ]);
        }
        // Prod waits for a person other than the requester, who approves the release: every
        // app at `head` (for one app, its build's SHA).
        let release = release_of(&self.config, &head)?;
        let mut no_wait = prod.clone();
        no_wait.push("--no-wait");
        self.expect(&no_wait, 4).await?;
        self.expect(
            &[
                "approve",
                "--env",
                "prod",
                "--sha",
                &release,
                "--as",
                "e2e-approver",
            ],
            0,
        )
        .await?;
        self.expect(&prod, 0).await?;
        self.check_release("prod", &all_at_head).await?;

        // A bad release of the first app: the same build refusing to start, under a new SHA,
        // pushed by hand into dev and staging as a hotfix would be; prod gets it through the
        // pipeline, as a release of that app alone (the others already run what staging runs).
        let bad = self.bad_release(&bad_app, &head).await?;
        let app = bad_app.name.as_str();
        // The release is that one build: asked for (exit 4, waiting), then approved.
        let mut promote_bad = prod.clone();
        promote_bad.extend(["--app", app, "--sha", bad.as_str()]);
        let mut bad_no_wait = promote_bad.clone();
        bad_no_wait.push("--no-wait");
        self.expect(&bad_no_wait, 4).await?;
        self.expect(
            &[
                "approve",
                "--env",
                "prod",
                "--sha",
                &bad,
                "--as",
                "e2e-approver",
            ],
            0,
        )
        .await?;
        let rejected = self.xtask(&promote_bad).await?;
        if rejected.code == 0 || !rejected.stderr.contains("rolled back") {
            bail!(
                "prod should have rolled the bad release back; exit {}:\n{}",
                rejected.code,
                rejected.stderr.trim()
            );
        }
        // Every app still runs `head`, and the apps that call it still reach it.
        self.check_release("prod", &all_at_head).await?;
        // Blocked now: promoting it again is refused by policy.
        self.expect(
            &["promote", "--env", "prod", "--app", app, "--sha", &bad],
            3,
        )
        .await?;
        // The hand-made hotfix is undone in staging and dev by the pipeline's own rollback.
        for env in ["staging", "dev"] {
            self.expect(
                &[
                    "rollback",
                    "--env",
                    env,
                    "--app",
                    app,
                    "--reason",
                    "e2e: bad release",
                ],
                0,
            )
            .await?;
            self.check_release(env, &all_at_head).await?;
        }
        eprintln!(
            "e2e --target {}: every check passed in {:.0?}",
            self.target,
            started.elapsed()
        );
        Ok(())
    }

    /// Builds and pushes `<app's repository>:<new sha>`: `head`'s image of `app` started with
    /// an argument it refuses (it exits 2 at once on every runtime, so no replica ever becomes
    /// ready), signed with the run's key and with `head`'s SBOM beside it, as ci would leave
    /// it (prod takes only signed builds with an SBOM), and records it in `app`'s values of
    /// dev and staging as a hand-made hotfix: commits with the trailers a pipeline promotion
    /// of one app would carry.
    async fn bad_release(&self, app: &AppConfig, head: &str) -> anyhow::Result<String> {
        let sha: GitSha = format!("{:040x}", rand::random::<u128>()).parse()?;
        let repository = &app.repository;
        let docker = adapters::docker::connect().await?;
        let images = ImageBuilder::new(docker.clone());
        images
            .derive(
                &format!("{repository}:{head}"),
                &format!("{repository}:{sha}"),
                &[r#"CMD ["--no-such-flag"]"#],
            )
            .await?;
        images
            .push(
                repository.as_str(),
                sha.as_str(),
                Credentials::from_env().map(|c| c.for_push()),
            )
            .await?;
        let registry = Registry::for_repository(repository, docker, Credentials::from_env());
        let digest = registry
            .digest(repository, sha.as_str())
            .await?
            .with_context(|| format!("{repository}:{sha} is not in the registry after the push"))?;
        let head_digest = registry
            .digest(repository, head)
            .await?
            .with_context(|| format!("{repository}:{head} is not in the registry"))?;
        let attachments =
            Attachments::for_repository(repository, &context::state_dir(), Credentials::from_env());
        if let Some(key) = &self.signing_key {
            let payload = ::supply_chain::cosign::payload(repository, &digest);
            let layer = SignatureLayer {
                signature_b64: key.sign(&payload),
                payload,
            };
            attachments
                .put_signature(repository, &digest, &layer)
                .await?;
        }
        if let Some((_, sbom)) = attachments.sbom(repository, &head_digest).await? {
            attachments.put_sbom(repository, &digest, &sbom).await?;
        }
        for env in ["dev", "staging"] {
            let env: EnvName = env.parse()?;
            self.gitops.write(&Change::one(
                self.config.values_path(&app.name, &env),
                vec![
                    ("image.tag".to_owned(), Scalar::str(sha.as_str())),
                    ("image.digest".to_owned(), Scalar::str(digest.as_str())),
                ],
                None,
                CommitMessage::new(format!(
                    "fix({env}): hotfix of {} by hand (e2e bad release)",
                    app.name
                ))
                .trailer(keys::ACTION, "promote")
                .trailer(keys::APP, app.name.as_str())
                .trailer(keys::IMAGE_SHA, sha.as_str())
                .trailer(keys::IMAGE_DIGEST, digest.as_str()),
            ))?;
        }
        eprintln!(
            "e2e: bad release {sha} ({digest}) of {} is in dev and staging",
            app.name
        );
        Ok(sha.to_string())
    }
}

/// Whether prod's deny window (gitops/bootstrap/prod/appproject.yaml) is closed now for any
/// app's Application there (a release's stage is gated once, closed when any app's is).
fn prod_frozen() -> anyhow::Result<bool> {
    use policy::window::{self, SyncPurpose, WindowDecision};
    let path = workspace::root()
        .join("gitops")
        .join(config::bootstrap::appproject_path("prod"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let doc = model::values::Document::parse(path.display().to_string(), text)?;
    let config = context::load_config()?;
    let prod = config.environment("prod")?;
    let windows = window::windows_from_appproject(&doc)?;
    let now = chrono::Utc::now();
    Ok(config.apps.iter().any(|app| {
        let decision = window::decide(
            &windows,
            &adapters::target::kube::argo::application_name(app.name.as_str(), "prod"),
            &prod.namespace,
            now,
            SyncPurpose::Promotion,
        );
        matches!(decision, WindowDecision::Closed { .. })
    }))
}

/// What prod's approval names when every app moves to `head`: the release
/// (`policy::plan::release_id` of every app at `head`; for one app, `head` itself).
fn release_of(config: &PipelineConfig, head: &str) -> anyhow::Result<String> {
    let head: GitSha = head.parse()?;
    Ok(match config.apps.as_slice() {
        [_] => head.to_string(),
        apps => {
            let moves: Vec<(AppName, GitSha)> = apps
                .iter()
                .map(|a| (a.name.clone(), head.clone()))
                .collect();
            policy::plan::release_id(&moves).to_string()
        }
    })
}

/// `app`'s entry for `env` in `status --json` (a one-app configuration's entries carry no
/// `app`).
fn status_entry<'a>(status: &'a Value, app: &str, env: &str) -> Option<&'a Value> {
    status["environments"]
        .as_array()?
        .iter()
        .find(|e| e["env"] == env && (e["app"] == app || e.get("app").is_none_or(Value::is_null)))
}

/// The API server's service proxy path of `GET /` on `app`'s Service in `namespace`, by the
/// port name the charts give it (`http`): Kubernetes API "Proxy" on Services,
/// `/api/v1/namespaces/{namespace}/services/{name}:{port}/proxy/{path}`.
fn service_proxy_path(namespace: &str, app: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/services/{app}:http/proxy/")
}

/// The build of the upstream a gateway's `GET /` reached: its `upstream.build_sha`.
fn upstream_build(body: &str) -> Option<String> {
    let answer: Value = serde_json::from_str(body).ok()?;
    answer["upstream"]["build_sha"].as_str().map(str::to_owned)
}

/// This checkout's commit.
fn head() -> anyhow::Result<String> {
    let repo = git2::Repository::discover(workspace::root()).context("open this repository")?;
    let head = repo.head()?.peel_to_commit()?.id().to_string();
    Ok(head)
}

/// How long e2e watches prod: 30s, or the shortest window in which its analysis reaches the
/// minimum on a cluster (`policy::plan::shortest_window`).
fn prod_window(config: &PipelineConfig) -> anyhow::Result<String> {
    let prod = config.environment("prod")?;
    let shortest = prod
        .analysis
        .as_ref()
        .and_then(|a| policy::plan::shortest_window(a, model::TargetKind::Kube, 1));
    let window = shortest
        .unwrap_or_default()
        .max(std::time::Duration::from_secs(30));
    Ok(humantime::format_duration(window).to_string())
}

#[cfg(test)]
mod tests;
