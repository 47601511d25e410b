//! `cargo xtask e2e --target kind|aks`: the whole delivery on a real cluster, through the
//! real command line, checking each step: ci → promote staging → an approval gate → promote
//! prod → a bad release that prod rejects → an automatic rollback → the bad build blocked.
//!
//! `--target kind` first brings the kind cluster up (`cargo xtask cluster up`). When kind,
//! kubectl, git or the Docker engine is missing it skips with the reason, unless
//! `PAKTECH_REQUIRE_KIND=1` makes that a failure. `--target aks` runs against the current
//! kubeconfig context with the caller's `PAKTECH_CONFIG` (an ACR repository and the GitOps
//! repository Argo CD reads), after `cargo xtask infra apply` and the bootstrap.

use std::time::Instant;

use anyhow::{Context, bail};
use pipeline::adapters::gitops::{Change, GitOpsRepo};
use pipeline::adapters::image::ImageBuilder;
use pipeline::adapters::registry::{Credentials, Registry};
use pipeline::audit::{CommitMessage, keys};
use pipeline::config::PipelineConfig;
use pipeline::cosign::{PublicKey, SigningKey};
use pipeline::model::{EnvName, GitSha};
use pipeline::values::Scalar;
use serde_json::Value;

use crate::cluster::{self, Kind};
use crate::context::{self, TargetKind};
use crate::{exit, workspace};

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
                return Err(exit::Usage(
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
                }
            }
            TargetKind::Aks => {
                let config = context::load_config()?;
                Scenario {
                    target: "aks",
                    envs: Vec::new(),
                    gitops: context::gitops(&config)?,
                    config,
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
    pipeline::adapters::docker::connect()
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

    /// The builds running in `env`, and how many replicas serve the build git names.
    async fn running(&self, env: &str) -> anyhow::Result<(Vec<String>, u64, u64)> {
        let ran = self.expect(&["status", "--json"], 0).await?;
        let status: Value = serde_json::from_str(&ran.stdout).context("status --json")?;
        let entry = status["environments"]
            .as_array()
            .and_then(|envs| envs.iter().find(|e| e["env"] == env))
            .with_context(|| format!("status --json has no {env}"))?;
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

    /// `env` runs only `sha`, on every replica its values ask for.
    async fn check_runs(&self, env: &str, sha: &str) -> anyhow::Result<()> {
        let (shas, ready, desired) = self.running(env).await?;
        if shas != [sha] || ready < desired || desired == 0 {
            bail!(
                "{env} should run {sha} on {desired} replica(s); it runs {shas:?} with {ready} ready"
            );
        }
        eprintln!("e2e: ok: {env} runs {sha} on {ready} replica(s)");
        Ok(())
    }

    async fn run(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let head = head()?;

        // ci: test (skipped: the suite that runs this already tests), build, push, dev.
        self.expect(&["ci", "--skip-tests"], 0).await?;
        self.check_runs("dev", &head).await?;

        self.expect(&["promote", "--env", "staging"], 0).await?;
        self.check_runs("staging", &head).await?;

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
        // Prod waits for a person other than the requester.
        let mut no_wait = prod.clone();
        no_wait.push("--no-wait");
        self.expect(&no_wait, 4).await?;
        self.expect(
            &[
                "approve",
                "--env",
                "prod",
                "--sha",
                &head,
                "--as",
                "e2e-approver",
            ],
            0,
        )
        .await?;
        self.expect(&prod, 0).await?;
        self.check_runs("prod", &head).await?;

        // A bad release: the same build refusing to start, under a new SHA, pushed by hand
        // into dev and staging as a hotfix would be; prod gets it through the pipeline.
        let bad = self.bad_release(&head).await?;
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
        let mut promote_bad = prod.clone();
        promote_bad.extend(["--sha", bad.as_str()]);
        let rejected = self.xtask(&promote_bad).await?;
        if rejected.code == 0 || !rejected.stderr.contains("rolled back") {
            bail!(
                "prod should have rolled the bad release back; exit {}:\n{}",
                rejected.code,
                rejected.stderr.trim()
            );
        }
        self.check_runs("prod", &head).await?;
        // Blocked now: promoting it again is refused by policy.
        self.expect(&["promote", "--env", "prod", "--sha", &bad], 3)
            .await?;
        // The hand-made hotfix is undone in staging and dev by the pipeline's own rollback.
        for env in ["staging", "dev"] {
            self.expect(
                &["rollback", "--env", env, "--reason", "e2e: bad release"],
                0,
            )
            .await?;
            self.check_runs(env, &head).await?;
        }
        eprintln!(
            "e2e --target {}: every check passed in {:.0?}",
            self.target,
            started.elapsed()
        );
        Ok(())
    }

    /// Builds and pushes `<repository>:<new sha>`: `head`'s image started with an argument
    /// it refuses (it exits 2 at once on every runtime, so no replica ever becomes ready),
    /// and records it in dev's and staging's values as a hand-made hotfix: commits with the
    /// trailers a pipeline promotion would carry.
    async fn bad_release(&self, head: &str) -> anyhow::Result<String> {
        let sha: GitSha = format!("{:040x}", rand::random::<u128>()).parse()?;
        let repository = &self.config.apps[0].repository;
        let docker = pipeline::adapters::docker::connect().await?;
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
        let digest = Registry::for_repository(repository, docker, Credentials::from_env())
            .digest(repository, sha.as_str())
            .await?
            .with_context(|| format!("{repository}:{sha} is not in the registry after the push"))?;
        for env in ["dev", "staging"] {
            let env: EnvName = env.parse()?;
            self.gitops.write(&Change::one(
                self.config.values_path(&self.config.apps[0].name, &env),
                vec![
                    ("image.tag".to_owned(), Scalar::str(sha.as_str())),
                    ("image.digest".to_owned(), Scalar::str(digest.as_str())),
                ],
                None,
                CommitMessage::new(format!("fix({env}): hotfix by hand (e2e bad release)"))
                    .trailer(keys::ACTION, "promote")
                    .trailer(keys::IMAGE_SHA, sha.as_str()),
            ))?;
        }
        eprintln!("e2e: bad release {sha} ({digest}) is in dev and staging");
        Ok(sha.to_string())
    }
}

/// Whether prod's deny window (gitops/bootstrap/prod/appproject.yaml) is closed now.
fn prod_frozen() -> anyhow::Result<bool> {
    use pipeline::policy::window::{self, SyncPurpose, WindowDecision};
    let path = workspace::root()
        .join("gitops")
        .join(pipeline::bootstrap::appproject_path("prod"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let doc = pipeline::values::Document::parse(path.display().to_string(), text)?;
    let config = context::load_config()?;
    let prod = config.environment("prod")?;
    let decision = window::decide(
        &window::windows_from_appproject(&doc)?,
        &pipeline::adapters::target::kube::argo::application_name(
            config.apps[0].name.as_str(),
            "prod",
        ),
        &prod.namespace,
        chrono::Utc::now(),
        SyncPurpose::Promotion,
    );
    Ok(matches!(decision, WindowDecision::Closed { .. }))
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
    let shortest = prod.analysis.as_ref().and_then(|a| {
        pipeline::policy::plan::shortest_window(a, pipeline::model::TargetKind::Kube, 1)
    });
    let window = shortest
        .unwrap_or_default()
        .max(std::time::Duration::from_secs(30));
    Ok(humantime::format_duration(window).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runs_key_is_trusted_beside_the_committed_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pipeline.toml");
        std::fs::copy(workspace::root().join("pipeline.toml"), &path).expect("copy");
        let key = SigningKey::generate().public_key();
        trust_key(&path, &key).expect("trusted");
        let config = PipelineConfig::load_in(&path, &workspace::root()).expect("loads");
        let ids: Vec<&str> = config
            .supply_chain
            .keys
            .iter()
            .map(|k| k.id.as_str())
            .collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(ids[1], key.id);
    }
}
