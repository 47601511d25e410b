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

mod checks;

use checks::*;

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

#[cfg(test)]
mod tests;
