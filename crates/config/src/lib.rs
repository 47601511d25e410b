//! `pipeline.toml` into a typed [`PipelineConfig`], and its consistency with the GitOps
//! content (`gitops/`). Unknown keys, missing values and bad values are errors that name the
//! file, the key and what was expected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use model::scan::Severity;
use model::{AppName, EnvName, Repository};

mod analysis;
mod apps;
pub mod bootstrap;
mod ci;
pub mod consistency;
mod environment;
mod local;
mod supply_chain;

pub use analysis::{AnalysisConfig, Inconclusive, Thresholds};
pub use apps::{AppConfig, AppOverrides, in_dependency_order};
pub use ci::{CiConfig, DEFAULT_TEST_PACKAGES};
pub use local::{DEFAULT_PREFIX, LocalConfig, is_docker_name};
pub use model::MAX_LOAD_RATE;
pub use supply_chain::{Requirements, SupplyChainConfig};

pub use environment::EnvironmentConfig;
use environment::*;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {}", path.display(), message.trim_end())]
    Invalid { path: PathBuf, message: String },
    #[error("unknown environment {name:?}: expected one of {}", known.join(", "))]
    UnknownEnvironment { name: String, known: Vec<String> },
    #[error("unknown app {name:?}: expected one of {}", known.join(", "))]
    UnknownApp { name: String, known: Vec<String> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The whole pipeline policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The apps, in dependency order (each after the apps it depends on). Read from
    /// `[[apps]]`, or from the one-app form `[app]` + `[image]`.
    #[serde(default)]
    pub apps: Vec<AppConfig>,
    /// The one-app form: `[app]` names it, `[image]` its repository; folded into `apps`.
    #[serde(default, rename = "app")]
    single_app: Option<SingleApp>,
    #[serde(default, rename = "image")]
    single_image: Option<ImageConfig>,
    #[serde(default)]
    pub gitops: GitOpsConfig,
    #[serde(default)]
    pub scan: ScanPolicy,
    #[serde(default)]
    pub notify: NotifyConfig,
    #[serde(default)]
    pub supply_chain: SupplyChainConfig,
    /// What `ci`'s test step runs.
    #[serde(default)]
    pub ci: CiConfig,
    /// What the local target names environments and replicas after.
    #[serde(default)]
    pub local: LocalConfig,
    /// In promotion order: the first is where `ci` deploys, the last is production.
    pub environments: Vec<EnvironmentConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SingleApp {
    name: AppName,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Repository the image is built into and promoted from.
    pub repository: Repository,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitOpsConfig {
    /// Where the GitOps repository lives: a path, `file://`, ssh or https (token from
    /// `GITOPS_TOKEN`). Unset: a bare repository under `.paktech/`, seeded from `gitops/`.
    pub url: Option<String>,
    pub branch: String,
    pub author_name: String,
    pub author_email: String,
    /// Pushes retried after a rejection (the remote moved), with jitter, before giving up.
    pub push_attempts: u32,
}

impl Default for GitOpsConfig {
    fn default() -> Self {
        Self {
            url: None,
            branch: "main".to_owned(),
            author_name: "paktech-pipeline".to_owned(),
            author_email: "pipeline@paktech.invalid".to_owned(),
            push_attempts: 30,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanPolicy {
    /// Fail the pipeline at this severity or above; unset: report only.
    pub fail_on: Option<Severity>,
    /// Count only findings that have a fix when applying `fail_on`.
    pub only_fixed: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// Post to Slack when `SLACK_WEBHOOK_URL` is set.
    pub slack: bool,
    /// Longest wait for one Slack attempt.
    #[serde(deserialize_with = "duration")]
    pub timeout: Duration,
    pub attempts: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            slack: true,
            timeout: Duration::from_secs(5),
            attempts: 3,
        }
    }
}

impl PipelineConfig {
    /// Reads and validates the file at `path`; its key files are relative to its directory.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_in(path, path.parent().unwrap_or(Path::new(".")))
    }

    /// Reads and validates the file at `path`, its key files relative to `workspace` (a
    /// configuration written elsewhere, as the AKS jobs do, still names the workspace's keys).
    pub fn load_in(path: &Path, workspace: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_in(path, &text, workspace)
    }

    /// Parses and validates `text`; `path` names it in errors, and key files are relative to
    /// its directory.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        Self::parse_in(path, text, path.parent().unwrap_or(Path::new(".")))
    }

    /// Parses and validates `text`; `path` names it in errors, key files are under `workspace`.
    pub fn parse_in(path: &Path, text: &str, workspace: &Path) -> Result<Self> {
        let invalid = |message: String| Error::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut config: Self = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        config.apps = config.fold_apps().map_err(invalid)?;
        config.supply_chain.read_keys(workspace).map_err(invalid)?;
        config.check_supply_chain().map_err(invalid)?;
        if let Some(problem) = config.ci.problem() {
            return Err(invalid(problem));
        }
        if let Some(problem) = config.local.problem() {
            return Err(invalid(problem));
        }
        if config.environments.is_empty() {
            return Err(invalid(
                "environments: expected at least one [[environments]] table".to_owned(),
            ));
        }
        for (i, env) in config.environments.iter().enumerate() {
            if config.environments[..i].iter().any(|e| e.name == env.name) {
                return Err(invalid(format!(
                    "environments[{i}].name: {:?} appears twice; expected each environment once",
                    env.name.as_str()
                )));
            }
            if env.name.as_str().parse::<EnvName>().is_err()
                || env.namespace.parse::<EnvName>().is_err()
            {
                return Err(invalid(format!(
                    "environments[{i}].namespace: {:?} is not a valid namespace; expected lowercase letters, digits and '-'",
                    env.namespace
                )));
            }
            if let Some(problem) = env.analysis.as_ref().and_then(|a| a.problem(env)) {
                return Err(invalid(format!("environments[{i}].analysis{problem}")));
            }
            if let Some(problem) = canary_problem(env) {
                return Err(invalid(format!("environments[{i}].canary: {problem}")));
            }
            if !env.approvers.is_empty() && env.approvals == 0 {
                return Err(invalid(format!(
                    "environments[{i}].approvers: set, but approvals is 0; expected approvals >= 1"
                )));
            }
        }
        if config.gitops.push_attempts == 0 {
            return Err(invalid(
                "gitops.push_attempts: expected at least 1".to_owned(),
            ));
        }
        Ok(config)
    }

    /// `[[apps]]` in dependency order, or the one app of `[app]` + `[image]`.
    fn fold_apps(&mut self) -> Result<Vec<AppConfig>, String> {
        let apps = std::mem::take(&mut self.apps);
        let single = match (self.single_app.take(), self.single_image.take()) {
            (None, None) => None,
            (Some(app), Some(image)) => Some(AppConfig::single(app.name, image.repository)),
            (Some(_), None) => {
                return Err(
                    "missing field `image`: [app] needs [image] with its repository".into(),
                );
            }
            (None, Some(_)) => {
                return Err("missing field `app`: [image] needs [app] with its name".into());
            }
        };
        let apps = match (single, apps.is_empty()) {
            (Some(app), true) => vec![app],
            (None, false) => apps,
            (Some(_), false) => {
                return Err(
                    "[app] and [[apps]] both set; expected one: [[apps]] for several apps, [app] + [image] for one".into(),
                );
            }
            (None, true) => {
                return Err("missing field `apps`: expected at least one [[apps]] table (or [app] and [image])".into());
            }
        };
        for (i, app) in apps.iter().enumerate() {
            for env in app.environments.keys() {
                if !self.environments.iter().any(|e| &e.name == env) {
                    return Err(format!(
                        "apps[{i}].environments.{env}: not an environment of this file"
                    ));
                }
            }
            for (env, overrides) in &app.environments {
                if let Some(problem) = overrides.analysis.as_ref().and_then(|a| {
                    self.environments
                        .iter()
                        .find(|e| &e.name == env)
                        .and_then(|e| a.problem(e))
                }) {
                    return Err(format!("apps[{i}].environments.{env}.analysis{problem}"));
                }
            }
        }
        let host = |a: &AppConfig| a.repository.host().map(str::to_owned);
        if let Some((i, other)) = apps
            .iter()
            .enumerate()
            .find(|(_, a)| host(a) != host(&apps[0]))
        {
            return Err(format!(
                "apps[{i}].repository: {:?} is in another registry than {:?}; expected every app's images in one registry",
                other.repository.as_str(),
                apps[0].repository.as_str()
            ));
        }
        in_dependency_order(apps)
    }

    /// The app named `name`, or an error listing the known ones.
    pub fn app(&self, name: &str) -> Result<&AppConfig> {
        self.apps
            .iter()
            .find(|a| a.name.as_str() == name)
            .ok_or_else(|| Error::UnknownApp {
                name: name.to_owned(),
                known: self.apps.iter().map(|a| a.name.to_string()).collect(),
            })
    }

    /// The first app's name, which named the local target's environments before `[local]
    /// prefix` did (the local target adopts them), and names the cluster target's lock.
    pub fn system_name(&self) -> &str {
        self.apps.first().map_or("paktech", |a| a.name.as_str())
    }

    /// `env`'s rules as they apply to `app`: the environment's, with what the app asks
    /// there beyond them (`[apps.environments.<env>]`).
    pub fn for_app(&self, app: &AppConfig, env: &EnvName) -> EnvironmentConfig {
        let mut effective = self
            .environments
            .iter()
            .find(|e| &e.name == env)
            .unwrap_or_else(|| self.first())
            .clone();
        if let Some(overrides) = app.overrides(env) {
            if let Some(approvals) = overrides.approvals {
                effective.approvals = approvals;
            }
            if let Some(approvers) = &overrides.approvers {
                effective.approvers = approvers.clone();
            }
            if let Some(analysis) = &overrides.analysis {
                effective.analysis = Some(analysis.clone());
            }
        }
        effective
    }

    /// The environment named `name`, or an error listing the known ones.
    pub fn environment(&self, name: &str) -> Result<&EnvironmentConfig> {
        self.environments
            .iter()
            .find(|e| e.name.as_str() == name)
            .ok_or_else(|| Error::UnknownEnvironment {
                name: name.to_owned(),
                known: self
                    .environments
                    .iter()
                    .map(|e| e.name.to_string())
                    .collect(),
            })
    }

    /// Where `name` stands in promotion order.
    pub fn position(&self, name: &EnvName) -> Option<usize> {
        self.environments.iter().position(|e| &e.name == name)
    }

    /// The environment before `name` in promotion order, if any.
    pub fn previous(&self, name: &EnvName) -> Option<&EnvironmentConfig> {
        let i = self.environments.iter().position(|e| &e.name == name)?;
        i.checked_sub(1).map(|p| &self.environments[p])
    }

    /// The first environment: where `ci` deploys.
    pub fn first(&self) -> &EnvironmentConfig {
        &self.environments[0]
    }

    /// The Argo CD Application of `app` in `env` (what sync windows match).
    pub fn application(&self, app: &AppName, env: &EnvName) -> String {
        application_name(app.as_str(), env.as_str())
    }

    /// Path of `app`'s values file for `env` inside the GitOps repository.
    pub fn values_path(&self, app: &AppName, env: &EnvName) -> String {
        values_path(app, env)
    }
}

/// What is wrong with an environment's canary setting; `None` when it is usable or unset.
fn canary_problem(env: &EnvironmentConfig) -> Option<String> {
    let window = env.canary?;
    if window.is_zero() {
        return Some("0s compares nothing; expected a window such as 30s, or no canary".into());
    }
    if env.analysis.is_none() {
        return Some(
            "set, but there is no [environments.analysis] table to judge it by; expected one"
                .into(),
        );
    }
    None
}

/// Path of `app`'s values file for `env` inside the GitOps repository.
pub fn values_path(app: &AppName, env: &EnvName) -> String {
    format!("apps/{app}/{env}/values.yaml")
}

/// The name the bootstrap ApplicationSet gives an environment's Argo CD Application
/// (`{{app}}-{{env}}`): what the kube target watches and sync windows match.
pub fn application_name(app: &str, env: &str) -> String {
    format!("{app}-{env}")
}

#[cfg(test)]
mod tests;
