//! What every command of the command line shares. The composition root: builds the
//! [`Pipeline`] (config, GitOps repository, Docker target, Slack) from the workspace and the
//! environment, the only place that reads secrets; this machine's signing key (`local_key`);
//! the failures the command line recognises (`errors`); progress and JSON output (`output`).
//!
//! Uses `flow` and the layers below it; `xtask`, `dashboard`, `bench` and `cluster` use it.

use std::path::PathBuf;

use ::supply_chain::cosign::SigningKey;
use adapters::attachments::Attachments;
use adapters::docker;
use adapters::gitops::{self, GitOpsRepo, GitOpsSettings};
use adapters::image::ImageBuilder;
use adapters::notify::Slack;
use adapters::registry::{Credentials, Distribution, Registry};
use adapters::target::{KubeTarget, LocalTarget, Target};
use anyhow::Context;
use config::PipelineConfig;
use flow::{Clock, Pipeline};
use model::{AppName, Secret};

pub mod delivery;
pub mod errors;
pub mod local_key;
pub mod output;
pub mod workspace;

/// `pipeline.toml` (or `PAKTECH_CONFIG`).
pub fn config_path() -> PathBuf {
    std::env::var_os("PAKTECH_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("pipeline.toml"))
}

/// The git-ignored state folder (`.paktech/`, or `PAKTECH_STATE_DIR`).
pub fn state_dir() -> PathBuf {
    std::env::var_os("PAKTECH_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join(".paktech"))
}

pub fn load_config() -> anyhow::Result<PipelineConfig> {
    Ok(PipelineConfig::load_in(&config_path(), &workspace::root())?)
}

/// Opens the GitOps repository named by the config (`PAKTECH_GITOPS_URL` overrides it); with
/// none, the embedded default: a bare repository in the state folder, seeded from `gitops/`.
pub fn gitops(config: &PipelineConfig) -> anyhow::Result<GitOpsRepo> {
    gitops_in(config, &state_dir())
}

/// [`gitops`], with its mirror (and the embedded default) in the state folder `state`.
pub fn gitops_in(config: &PipelineConfig, state: &std::path::Path) -> anyhow::Result<GitOpsRepo> {
    let url = match std::env::var("PAKTECH_GITOPS_URL")
        .ok()
        .or_else(|| config.gitops.url.clone())
    {
        Some(url) => url,
        None => {
            let bare = state.join("gitops.git");
            let created = gitops::seed_bare_repository(
                &bare,
                &workspace::root().join("gitops"),
                &config.gitops.branch,
                (&config.gitops.author_name, &config.gitops.author_email),
            )?;
            if created {
                eprintln!(
                    "created the local GitOps repository {} from gitops/",
                    bare.display()
                );
            }
            bare.display().to_string()
        }
    };
    let settings = GitOpsSettings {
        url,
        branch: config.gitops.branch.clone(),
        author_name: config.gitops.author_name.clone(),
        author_email: config.gitops.author_email.clone(),
        push_attempts: config.gitops.push_attempts,
        token: std::env::var("GITOPS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(Secret::new),
    };
    Ok(GitOpsRepo::open(
        settings,
        &state.join("gitops-mirror.git"),
    )?)
}

/// Everything a flow needs, for an already validated `config`.
pub async fn pipeline_with(mut config: PipelineConfig) -> anyhow::Result<Pipeline> {
    check_target(&config)?;
    // Every input is checked before the first thing is created on disk.
    let clock = clock()?;
    let signing_key = signing_key()?;
    // The local default signs with, and trusts, this machine's own key (made on first use).
    let signing_key =
        crate::local_key::add(selected_target(), &mut config, signing_key, &state_dir())?;
    let gitops = gitops(&config)?;
    let slack = std::env::var("SLACK_WEBHOOK_URL")
        .ok()
        .filter(|url| !url.is_empty() && config.notify.slack)
        .map(|url| {
            Slack::new(
                Secret::new(url),
                config.notify.timeout,
                config.notify.attempts,
            )
        });
    // The local target runs on the engine; a cluster target needs one only to build images
    // (ci), so status, promote and rollback work on a machine without Docker.
    // Every app's images live in one registry (the configuration refuses others).
    let repository = &config.apps[0].repository;
    let attachments =
        Attachments::for_repository(repository, &state_dir(), Credentials::from_env());
    let (target, images, registry) = match selected_target() {
        TargetKind::Local => {
            let docker = docker::connect().await?;
            let target = Target::Local(local_target(docker.clone(), &config)?);
            let registry =
                Registry::for_repository(repository, docker.clone(), Credentials::from_env());
            (target, Some(ImageBuilder::new(docker)), registry)
        }
        TargetKind::Kind | TargetKind::Aks => {
            let images = match docker::connect().await {
                Ok(docker) => Some(ImageBuilder::new(docker)),
                Err(err) => {
                    tracing::debug!(%err, "no Docker engine: images cannot be built here");
                    None
                }
            };
            // `check_target` made sure the repository names a registry host.
            let registry = Registry::Distribution(Distribution::new(Credentials::from_env()));
            (kube_target(&config).await?, images, registry)
        }
    };
    Ok(Pipeline {
        workspace: workspace::root(),
        target,
        images,
        registry,
        attachments,
        clock,
        gitops,
        slack,
        config,
        signing_key,
    })
}

/// The key `ci` signs with: the PEM text in `PAKTECH_SIGNING_KEY`, or the file named by
/// `PAKTECH_SIGNING_KEY_FILE`; neither set: none. Errors name the variable or the file, never
/// the key.
pub fn signing_key() -> anyhow::Result<Option<SigningKey>> {
    if let Some(pem) = std::env::var("PAKTECH_SIGNING_KEY")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return Ok(Some(SigningKey::from_pem(
            "PAKTECH_SIGNING_KEY",
            &Secret::new(pem),
        )?));
    }
    let Some(path) = std::env::var_os("PAKTECH_SIGNING_KEY_FILE").filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = PathBuf::from(path);
    let pem = std::fs::read_to_string(&path).map_err(|e| {
        crate::errors::Usage(format!(
            "PAKTECH_SIGNING_KEY_FILE={}: cannot read it: {e}",
            path.display()
        ))
    })?;
    Ok(Some(SigningKey::from_pem(
        &format!("PAKTECH_SIGNING_KEY_FILE={}", path.display()),
        &Secret::new(pem),
    )?))
}

/// Where environments run: `--target` (or `PAKTECH_TARGET`), chosen once per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TargetKind {
    /// Docker containers on this machine.
    #[default]
    Local,
    /// The kind cluster `cargo xtask cluster up` creates (kubeconfig context `kind-paktech`).
    Kind,
    /// The current kubeconfig context (an AKS cluster, after `az aks get-credentials`).
    Aks,
}

static TARGET: std::sync::OnceLock<TargetKind> = std::sync::OnceLock::new();

/// Chooses the target for this process (the command line does, before any command runs).
pub fn select_target(kind: TargetKind) {
    let _ = TARGET.set(kind);
}

pub fn selected_target() -> TargetKind {
    TARGET.get().copied().unwrap_or_default()
}

/// The namespace Argo CD runs in (its AppProjects live there; each environment's Application
/// lives in the environment's namespace); the bootstrap manifests in gitops/bootstrap/ name it.
pub const ARGOCD_NAMESPACE: &str = "argocd";

/// The kubeconfig context of the kind cluster `cargo xtask cluster up` creates.
pub const KIND_CONTEXT: &str = "kind-paktech";

/// Refuses a config the selected target cannot work with, before anything is touched: a
/// cluster pulls images from a registry, and the engine on this machine is not one.
pub fn check_target(config: &PipelineConfig) -> anyhow::Result<()> {
    if selected_target() == TargetKind::Local {
        return Ok(());
    }
    for app in &config.apps {
        if adapters::registry::split_host(&app.repository).is_none() {
            return Err(crate::errors::Usage(format!(
                "{}: {}'s repository is {:?}; a cluster target needs a registry it can pull from, such as \"paktech.azurecr.io/{}\" (aks) or \"localhost:5001/{}\" (kind)",
                config_path().display(),
                app.name,
                app.repository.as_str(),
                app.name,
                app.name
            ))
            .into());
        }
    }
    Ok(())
}

/// The selected target, built for `config`.
pub async fn kube_target(config: &PipelineConfig) -> anyhow::Result<Target> {
    let context = match selected_target() {
        TargetKind::Kind => Some(KIND_CONTEXT),
        TargetKind::Local | TargetKind::Aks => None,
    };
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let kubeconfig = kube::Config::from_kubeconfig(&options)
        .await
        .with_context(|| {
            format!(
                "cannot use the kubeconfig{}",
                context.map(|c| format!(" context {c}")).unwrap_or_default()
            )
        })?;
    let client = kube::Client::try_from(kubeconfig).context("cannot build a Kubernetes client")?;
    let namespaces = config
        .environments
        .iter()
        .map(|e| (e.name.clone(), e.namespace.clone()))
        .collect();
    Ok(Target::Kube(KubeTarget::new(
        client,
        config.system_name(),
        namespaces,
    )))
}

/// The local target, naming what it runs after `[local] prefix`, or after
/// `PAKTECH_TARGET_PREFIX` (tests use it to stay clear of a developer's own environments).
/// Under the configured prefix it adopts the environments named after the first app, as
/// they were before the prefix existed (docs/operations.md, "Local names").
pub fn local_target(
    docker: docker::Docker,
    config: &PipelineConfig,
) -> anyhow::Result<LocalTarget> {
    match std::env::var("PAKTECH_TARGET_PREFIX") {
        Ok(prefix) if !prefix.is_empty() => {
            if !config::is_docker_name(&prefix) {
                return Err(crate::errors::Usage(format!(
                    "invalid PAKTECH_TARGET_PREFIX={prefix:?}: expected a letter or digit, then letters, digits, '_', '.' or '-', such as \"{}\"",
                    config::DEFAULT_PREFIX
                ))
                .into());
            }
            Ok(LocalTarget::new(docker, &prefix))
        }
        _ => Ok(LocalTarget::new(docker, &config.local.prefix).adopting(config.system_name())),
    }
}

/// Everything a flow needs.
pub async fn pipeline() -> anyhow::Result<Pipeline> {
    pipeline_with(load_config()?).await
}

/// The system clock, or the time in `PAKTECH_NOW` (RFC 3339), so a run can stand at any hour.
pub fn clock() -> anyhow::Result<Clock> {
    match std::env::var("PAKTECH_NOW") {
        Ok(text) if !text.is_empty() => {
            let at = chrono::DateTime::parse_from_rfc3339(&text).map_err(|e| {
                crate::errors::Usage(format!(
                    "invalid PAKTECH_NOW={text:?} ({e}): expected an RFC 3339 time such as 2026-11-26T23:00:00Z"
                ))
            })?;
            Ok(Clock::Fixed(at.with_timezone(&chrono::Utc)))
        }
        _ => Ok(Clock::System),
    }
}

/// Who runs this: in GitHub Actions the person who started (or re-ran) the run
/// (`GITHUB_TRIGGERING_ACTOR`, else `GITHUB_ACTOR`), else the machine's git identity; neither
/// is [`crate::errors::NoIdentity`] (exit 2), since the history would otherwise record a
/// login name nobody chose. A name that is not a valid identity (invisible or control
/// characters) is refused, naming where it came from.
pub fn identity() -> anyhow::Result<model::Person> {
    let from_git = || {
        std::process::Command::new("git")
            .args(["config", "user.name"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
            .map(|name| ("the git identity (git config user.name)", name))
    };
    let var = |name: &'static str| {
        std::env::var(name)
            .ok()
            .filter(|s| !s.is_empty())
            .map(|v| (name, v))
    };
    let (source, name) = var("GITHUB_TRIGGERING_ACTOR")
        .or_else(|| var("GITHUB_ACTOR"))
        .or_else(from_git)
        .ok_or(crate::errors::NoIdentity)?;
    name.parse()
        .with_context(|| format!("bad identity from {source}; pass --as NAME"))
}

/// `--as NAME` when given, else [`identity`].
pub fn person(given: Option<&str>) -> anyhow::Result<model::Person> {
    match given {
        Some(name) => Ok(name.parse().context("bad --as")?),
        None => identity(),
    }
}

/// This run's id: the CI platform's, else one made from the time and process id.
pub fn run_id() -> String {
    std::env::var("GITHUB_RUN_ID")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            format!(
                "local-{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
                std::process::id()
            )
        })
}

/// Parses an environment name given on the command line against the config.
pub fn environment<'c>(
    config: &'c PipelineConfig,
    name: &str,
) -> anyhow::Result<&'c config::EnvironmentConfig> {
    config.environment(name).context("bad --env")
}

/// The apps `--app` names (each checked against the configuration), in dependency order.
pub fn apps(config: &PipelineConfig, names: &[String]) -> anyhow::Result<Vec<AppName>> {
    for name in names {
        config.app(name).context("bad --app")?;
    }
    Ok(config
        .apps
        .iter()
        .filter(|a| names.iter().any(|n| n == a.name.as_str()))
        .map(|a| a.name.clone())
        .collect())
}

/// The one app a command acts on: `--app`, or the only app of the configuration; several
/// configured and none named is bad input (exit 2) listing them.
pub fn one_app<'c>(
    config: &'c PipelineConfig,
    name: Option<&str>,
) -> anyhow::Result<&'c config::AppConfig> {
    match (name, config.apps.as_slice()) {
        (Some(name), _) => config.app(name).context("bad --app"),
        (None, [only]) => Ok(only),
        (None, several) => Err(crate::errors::Usage(format!(
            "--app: this configuration has several apps; expected one of {}",
            several
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()),
    }
}

/// An input file named on the command line (`--report`, `--scan-report`): read, or refused
/// as bad input (exit 2) naming the flag and the path.
pub fn read_input(flag: &str, path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let why = if path.is_dir() {
            "it is a directory".to_owned()
        } else {
            e.to_string()
        };
        crate::errors::Usage(format!(
            "cannot read {flag} {}: {why}; expected a readable file",
            path.display()
        ))
        .into()
    })
}

/// A free-text argument (`--reason`, `--comment`): one line of 1 to 200 visible
/// characters, so it can travel in a commit trailer without forging another or displaying
/// as something else.
pub fn text_arg(flag: &str, value: &str) -> anyhow::Result<model::Reason> {
    value.parse().map_err(|_| {
        crate::errors::Usage(format!(
            "invalid {flag}: expected {}",
            model::Reason::EXPECTED
        ))
        .into()
    })
}
