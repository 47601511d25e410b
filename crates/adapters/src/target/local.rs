//! The local target: each environment is a Docker network `<prefix>-<env>` (the prefix is
//! the project's, `paktech`, or `PAKTECH_TARGET_PREFIX`) holding, for every app,
//! `replicaCount` containers named `<prefix>-<app>-<env>-<id>` of the pinned image, each
//! published on a 127.0.0.1 port, read-only, non-root, with a tmpfs `/tmp` and the values'
//! resource limits. Inside the network an app's replicas answer to the app's name (a network
//! alias), so the apps of one environment reach each other as they would through a
//! Kubernetes Service.
//!
//! Environments made under a former prefix (before, the first app's name) are adopted by the
//! next sync without a moment unserved: see [`LocalTarget::adopting`].
//!
//! What runs is read back from container labels (environment, image tag, GitOps revision and
//! the replica's spec), so there is no state file to drift from the truth. Rollouts start a
//! new replica and wait until it is healthy and reports the expected build before removing an
//! old one, so ready replicas never drop below what was there.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    ListNetworksOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{Convergence, Replica};
use crate::metrics::{self, Scraper};
use crate::probe::Prober;
use model::desired::DesiredState;
use model::report::Reporter;
use model::{AppName, EnvName};
use model::{MetricsSnapshot, Probe};
use model::{ReplicaState, RolloutRule, RolloutStep};

mod adoption;
mod containers;

const LABEL_APP: &str = "dev.paktech.app";
const LABEL_SYSTEM: &str = "dev.paktech.system";
const LABEL_ENV: &str = "dev.paktech.env";
const LABEL_TAG: &str = "dev.paktech.tag";
const LABEL_REVISION: &str = "dev.paktech.gitops-revision";
const LABEL_SPEC: &str = "dev.paktech.spec";
const APP_PORT: &str = "8080/tcp";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("docker {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image {image} is not in the local Docker engine (build it with `cargo xtask image`)")]
    ImageMissing { image: String },
    #[error(
        "image {image} is {found}, but the values pin {expected}; refusing to run a different build"
    )]
    DigestMismatch {
        image: String,
        expected: String,
        found: String,
    },
    #[error("replica {name} of {image} failed: {reason}{}", logs_suffix(.logs))]
    ReplicaFailed {
        name: String,
        image: String,
        reason: String,
        logs: String,
    },
    #[error("replica {name} of {image} was not ready within {}s: {last}", timeout.as_secs())]
    NotReady {
        name: String,
        image: String,
        timeout: Duration,
        last: String,
    },
}

fn logs_suffix(logs: &str) -> String {
    if logs.trim().is_empty() {
        String::new()
    } else {
        format!("; its last output: {}", logs.trim())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn docker(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
    let action = action.into();
    move |source| Error::Docker { action, source }
}

/// Environments as Docker containers on this machine.
#[derive(Debug, Clone)]
pub struct LocalTarget {
    docker: Docker,
    /// What environments' networks and replicas are named after, and labelled with.
    prefix: String,
    /// The prefix environments were made under before, whose replicas this target adopts.
    former: Option<String>,
    prober: Prober,
    scraper: Scraper,
}

/// Whose a container is: this target's, or one made under the former prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Current,
    Former,
}

/// The name of a new replica: `<prefix>-<app>-<env>-<id>`, where an app whose name already
/// begins with the prefix (`paktech-app` under `paktech`) is not prefixed twice.
fn replica_name(prefix: &str, app: &AppName, env: &EnvName, id: u32) -> String {
    let app = app.as_str();
    let owner = if app == prefix
        || app
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('-'))
    {
        app.to_owned()
    } else {
        format!("{prefix}-{app}")
    };
    format!("{owner}-{env}-{:06x}", id & 0xff_ffff)
}

impl LocalTarget {
    pub fn new(docker: Docker, prefix: &str) -> Self {
        Self {
            docker,
            prefix: prefix.to_owned(),
            former: None,
            prober: Prober::default(),
            scraper: Scraper::default(),
        }
    }

    /// This target, adopting the environments made under `former` (the first app's name,
    /// which named networks before the project's prefix did): their replicas count as this
    /// target's but never as current, so the next sync replaces them one at a time under the
    /// rollout rule; before it does, every replica of the former names in the environment
    /// joins the new network under its app's alias, so old and new replicas of every app reach
    /// each other throughout; the former network goes once nothing is attached to it.
    #[must_use]
    pub fn adopting(mut self, former: &str) -> Self {
        if former != self.prefix {
            self.former = Some(former.to_owned());
        }
        self
    }

    /// The name environments' networks and replicas are prefixed with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether a replica of `desired.app` in `desired.env` runs a spec other than `desired`'s.
    pub async fn pending(&self, desired: &DesiredState) -> Result<bool> {
        Ok(self
            .replicas(&desired.app, &desired.env, Some(&desired.spec()))
            .await?
            .iter()
            .any(|r| r.running && !r.spec_matches))
    }

    fn network(&self, env: &EnvName) -> String {
        format!("{}-{env}", self.prefix)
    }

    /// Whose a container with `labels` is. A replica started before environments were
    /// shared carries no prefix label: it belongs to the prefix named after its app.
    fn owner(&self, labels: &HashMap<String, String>) -> Option<Owner> {
        let of = labels.get(LABEL_SYSTEM).or_else(|| labels.get(LABEL_APP))?;
        if of == &self.prefix {
            Some(Owner::Current)
        } else if self.former.as_ref() == Some(of) {
            Some(Owner::Former)
        } else {
            None
        }
    }

    /// Every replica of `app` in `env` of this target, oldest first; `spec` marks those
    /// matching it (a replica of the former names never does).
    pub async fn replicas(
        &self,
        app: &AppName,
        env: &EnvName,
        spec: Option<&str>,
    ) -> Result<Vec<Replica>> {
        self.listed(
            vec![format!("{LABEL_APP}={app}"), format!("{LABEL_ENV}={env}")],
            spec,
        )
        .await
    }

    /// This target's containers carrying every label of `labels`, oldest first.
    async fn listed(&self, labels: Vec<String>, spec: Option<&str>) -> Result<Vec<Replica>> {
        let filters = HashMap::from([("label", labels)]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let mut summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(docker("list containers"))?;
        summaries.sort_by_key(|s| s.created.unwrap_or_default());
        let mut replicas = Vec::new();
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            let inspect = match self
                .docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspect) => inspect,
                // Removed between listing and inspecting: it is not a replica any more.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => continue,
                Err(e) => return Err(docker(format!("inspect {id}"))(e)),
            };
            let labels = inspect
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default();
            let Some(owner) = self.owner(&labels) else {
                continue;
            };
            let state = inspect.state.clone().unwrap_or_default();
            let url = inspect
                .network_settings
                .as_ref()
                .and_then(|n| n.ports.as_ref())
                .and_then(|p| p.get(APP_PORT).cloned().flatten())
                .and_then(|b| b.into_iter().find_map(|b| b.host_port))
                .map(|port| format!("http://127.0.0.1:{port}"));
            replicas.push(Replica {
                name: inspect
                    .name
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned(),
                tag: labels.get(LABEL_TAG).cloned().unwrap_or_default(),
                revision: labels.get(LABEL_REVISION).cloned().unwrap_or_default(),
                running: state.running.unwrap_or(false) && !state.restarting.unwrap_or(false),
                restarts: inspect.restart_count.unwrap_or_default(),
                url,
                spec_matches: owner == Owner::Current
                    && spec.is_some_and(|s| labels.get(LABEL_SPEC).map(String::as_str) == Some(s)),
            });
        }
        Ok(replicas)
    }

    /// Makes `desired.env` run `desired`: starts what is missing (one at a time, each waited
    /// for), then removes what is stale or extra. Idempotent: a matching environment is left
    /// untouched. Replicas of the former names are adopted first and replaced like stale ones.
    #[tracing::instrument(skip_all, fields(app = %desired.app, env = %desired.env, revision = %desired.revision))]
    pub async fn converge(
        &self,
        desired: &DesiredState,
        timeout: Duration,
        rule: RolloutRule,
        reporter: &dyn Reporter,
    ) -> Result<Convergence> {
        let replicas = self
            .replicas(&desired.app, &desired.env, Some(&desired.spec()))
            .await?;
        let adopted = self.adopt(&desired.env, reporter).await?;
        let retire = adopted.is_some();
        let done = self
            .roll_out(desired, replicas, adopted, timeout, rule, reporter)
            .await?;
        if retire {
            self.retire_former_network(&desired.env).await?;
        }
        Ok(done)
    }

    /// Carries out `rule`'s steps from `replicas` until it has none left.
    async fn roll_out(
        &self,
        desired: &DesiredState,
        mut replicas: Vec<Replica>,
        mut network: Option<String>,
        timeout: Duration,
        rule: RolloutRule,
        reporter: &dyn Reporter,
    ) -> Result<Convergence> {
        const STEP: &str = "sync";
        let spec = desired.spec();
        let mut done = Convergence::default();
        // `policy::rollout` decides each step from what runs; this only carries it out.
        loop {
            let states: Vec<ReplicaState> = replicas
                .iter()
                .map(|r| ReplicaState {
                    name: r.name.clone(),
                    running: r.running,
                    current: r.spec_matches,
                })
                .collect();
            let Some(step) = rule(
                &states,
                desired.replicas,
                desired.min_available,
                desired.image.is_some(),
            ) else {
                return Ok(done);
            };
            match step {
                RolloutStep::Start => {
                    let Some(image) = &desired.image else {
                        return Ok(done);
                    };
                    if network.is_none() {
                        network = Some(self.ensure_network(&desired.env).await?);
                    }
                    if done.started.is_empty() {
                        self.check_image(image).await?;
                    }
                    let network = network.as_deref().unwrap_or_default();
                    let name = self.start(desired, &spec, network).await?;
                    reporter.progress(
                        STEP,
                        format!("started {name}; waiting until it serves {}", image.tag),
                    );
                    if let Err(err) = self
                        .wait_ready(&name, &image.name(), &image.tag.to_string(), timeout)
                        .await
                    {
                        // Leave the environment as it was: the old replicas keep serving.
                        let _ = self.remove(&name).await;
                        return Err(err);
                    }
                    done.started.push(name.clone());
                    replicas.push(Replica {
                        name,
                        tag: image.tag.to_string(),
                        revision: desired.revision.to_string(),
                        running: true,
                        restarts: 0,
                        url: None,
                        spec_matches: true,
                    });
                }
                RolloutStep::RemoveStopped(name)
                | RolloutStep::Retire(name)
                | RolloutStep::ScaleDown(name) => {
                    let what = replicas
                        .iter()
                        .find(|r| r.name == name)
                        .map(|r| r.tag.clone())
                        .unwrap_or_default();
                    reporter.progress(STEP, format!("removing {name} ({what})"));
                    self.remove(&name).await?;
                    replicas.retain(|r| r.name != name);
                    done.removed.push(name);
                }
            }
        }
    }

    /// Probes every running replica of `app` in `env`.
    pub async fn probe(&self, app: &AppName, env: &EnvName) -> Result<Vec<(Replica, Probe)>> {
        let mut probes = Vec::new();
        for replica in self.replicas(app, env, None).await? {
            let probe = match &replica.url {
                Some(url) if replica.running => self.prober.probe(url).await,
                _ => Probe {
                    url: replica.url.clone().unwrap_or_default(),
                    healthy: false,
                    build_sha: None,
                    problem: Some("not running".to_owned()),
                },
            };
            probes.push((replica, probe));
        }
        Ok(probes)
    }

    /// Reads `/metrics` of every running replica of `app` in `env` on its published port.
    pub async fn metrics(&self, app: &AppName, env: &EnvName) -> Result<MetricsSnapshot> {
        let mut snapshot = MetricsSnapshot::default();
        for replica in self.replicas(app, env, None).await? {
            let read = match &replica.url {
                Some(url) if replica.running => self.scraper.read(url).await,
                _ => Err("not running".to_owned()),
            };
            let parsed = read.and_then(|text| {
                metrics::parse(&replica.name, &replica.tag, &text).map_err(|e| e.to_string())
            });
            match parsed {
                Ok(read) => snapshot.replicas.push(read),
                Err(why) => snapshot.unreadable.push(format!("{}: {why}", replica.name)),
            }
        }
        Ok(snapshot)
    }

    /// Removes every app's replicas and the network of `env`, the former names' too (for
    /// tests and `sync --prune`).
    pub async fn teardown(&self, env: &EnvName) -> Result<()> {
        for replica in self
            .listed(vec![format!("{LABEL_ENV}={env}")], None)
            .await?
        {
            self.remove(&replica.name).await?;
        }
        let mut names = vec![self.network(env)];
        names.extend(self.former.as_ref().map(|former| format!("{former}-{env}")));
        for name in names {
            for network in self.networks_named(&name).await? {
                if let Some(id) = &network.id {
                    self.remove_network(&name, id).await?;
                }
            }
        }
        Ok(())
    }

    /// The networks named exactly `name`, oldest first (Docker's filter matches substrings,
    /// and does not refuse a second network of one name).
    async fn networks_named(&self, name: &str) -> Result<Vec<bollard::models::Network>> {
        let filters = HashMap::from([("name", vec![name.to_owned()])]);
        let mut found: Vec<_> = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(docker("list networks"))?
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .collect();
        found.sort_by_key(|n| (n.created.clone().map(|c| c.to_string()), n.id.clone()));
        Ok(found)
    }

    /// Removes the network `id` (named `name`); one already gone is fine.
    async fn remove_network(&self, name: &str, id: &str) -> Result<()> {
        match self.docker.remove_network(id).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(docker(format!("remove network {name}"))(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_named_after_the_prefix_its_app_and_its_environment() {
        let env: EnvName = "dev".parse().expect("env");
        let name = |prefix: &str, app: &str| {
            replica_name(prefix, &app.parse().expect("app"), &env, 0x12ab_cdef)
        };
        assert_eq!(name("paktech", "paktech-app"), "paktech-app-dev-abcdef");
        assert_eq!(
            name("paktech", "paktech-gateway"),
            "paktech-gateway-dev-abcdef"
        );
        assert_eq!(name("paktech", "shop"), "paktech-shop-dev-abcdef");
        // Only a whole word of the prefix is folded.
        assert_eq!(name("paktech", "paktechx"), "paktech-paktechx-dev-abcdef");
        assert_eq!(name("paktech", "paktech"), "paktech-dev-abcdef");
        assert_eq!(name("t-1", "paktech-app"), "t-1-paktech-app-dev-abcdef");
    }
}
