//! The local target: each environment is a Docker network `<system>-<env>` (the system is
//! named after its first app) holding, for every app, `replicaCount` containers of the pinned
//! image, each published on a 127.0.0.1 port, read-only, non-root, with a tmpfs `/tmp` and
//! the values' resource limits. Inside the network an app's replicas answer to the app's
//! name (a network alias), so the apps of one environment reach each other as they would
//! through a Kubernetes Service.
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
    /// What an environment's network is named after (the first app).
    system: String,
    prober: Prober,
    scraper: Scraper,
}

impl LocalTarget {
    pub fn new(docker: Docker, system: &str) -> Self {
        Self {
            docker,
            system: system.to_owned(),
            prober: Prober::default(),
            scraper: Scraper::default(),
        }
    }

    /// The name environments' networks are prefixed with.
    pub fn system(&self) -> &str {
        &self.system
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
        format!("{}-{env}", self.system)
    }

    /// Every replica of `app` in `env` of this system, oldest first; `spec` marks those
    /// matching it. A replica started before environments were shared carries no system
    /// label: it belongs to the system named after its app.
    pub async fn replicas(
        &self,
        app: &AppName,
        env: &EnvName,
        spec: Option<&str>,
    ) -> Result<Vec<Replica>> {
        let mine = |labels: &HashMap<String, String>| match labels.get(LABEL_SYSTEM) {
            Some(system) => system == &self.system,
            None => app.as_str() == self.system,
        };
        self.listed(
            vec![format!("{LABEL_APP}={app}"), format!("{LABEL_ENV}={env}")],
            spec,
            mine,
        )
        .await
    }

    /// The containers carrying every label of `labels` that `keep` keeps, oldest first.
    async fn listed(
        &self,
        labels: Vec<String>,
        spec: Option<&str>,
        keep: impl Fn(&HashMap<String, String>) -> bool,
    ) -> Result<Vec<Replica>> {
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
            if !keep(&labels) {
                continue;
            }
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
                spec_matches: spec
                    .is_some_and(|s| labels.get(LABEL_SPEC).map(String::as_str) == Some(s)),
            });
        }
        Ok(replicas)
    }

    /// Makes `desired.env` run `desired`: starts what is missing (one at a time, each waited
    /// for), then removes what is stale or extra. Idempotent: a matching environment is left
    /// untouched.
    #[tracing::instrument(skip_all, fields(app = %desired.app, env = %desired.env, revision = %desired.revision))]
    pub async fn converge(
        &self,
        desired: &DesiredState,
        timeout: Duration,
        rule: RolloutRule,
        reporter: &dyn Reporter,
    ) -> Result<Convergence> {
        const STEP: &str = "sync";
        let spec = desired.spec();
        let mut done = Convergence::default();
        let mut replicas = self
            .replicas(&desired.app, &desired.env, Some(&spec))
            .await?;
        let mut network = None;
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
                        self.check_image(image).await?;
                        network = Some(self.ensure_network(&desired.env).await?);
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

    async fn check_image(&self, image: &model::desired::PinnedImage) -> Result<()> {
        let name = image.name();
        let inspect = match self.docker.inspect_image(&name).await {
            Ok(inspect) => inspect,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                return Err(Error::ImageMissing { image: name });
            }
            Err(e) => return Err(docker(format!("inspect image {name}"))(e)),
        };
        if let Some(digest) = &image.digest {
            let id = inspect.id.unwrap_or_default();
            let repo_digests = inspect.repo_digests.unwrap_or_default();
            let pinned = format!("{}@{digest}", image.repository);
            if id != digest.as_str() && !repo_digests.contains(&pinned) {
                return Err(Error::DigestMismatch {
                    image: name,
                    expected: digest.to_string(),
                    found: id,
                });
            }
        }
        Ok(())
    }

    /// The id of `env`'s network, created when missing. Docker does not refuse a second
    /// network of the same name, so two runs racing here could make two; the oldest wins
    /// and the others are removed, and containers join by id.
    async fn ensure_network(&self, env: &EnvName) -> Result<String> {
        let name = self.network(env);
        let filters = HashMap::from([("name", vec![name.clone()])]);
        let list = || async {
            let mut found: Vec<_> = self
                .docker
                .list_networks(Some(
                    ListNetworksOptionsBuilder::new().filters(&filters).build(),
                ))
                .await
                .map_err(docker("list networks"))?
                .into_iter()
                .filter(|n| n.name.as_deref() == Some(name.as_str()))
                .collect();
            found.sort_by_key(|n| (n.created.clone().map(|c| c.to_string()), n.id.clone()));
            Ok::<_, Error>(found)
        };
        if list().await?.is_empty() {
            let request = NetworkCreateRequest {
                name: name.clone(),
                labels: Some(HashMap::from([
                    (LABEL_SYSTEM.to_owned(), self.system.clone()),
                    (LABEL_ENV.to_owned(), env.to_string()),
                ])),
                ..Default::default()
            };
            match self.docker.create_network(request).await {
                Ok(_)
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(e) => return Err(docker(format!("create network {name}"))(e)),
            }
        }
        let found = list().await?;
        let Some((oldest, extras)) = found.split_first() else {
            return Err(docker(format!("find network {name}"))(
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    message: format!("network {name} vanished after it was created"),
                },
            ));
        };
        for extra in extras {
            if let Some(id) = &extra.id {
                let _ = self.docker.remove_network(id).await;
            }
        }
        Ok(oldest.id.clone().unwrap_or(name))
    }

    async fn start(&self, desired: &DesiredState, spec: &str, network: &str) -> Result<String> {
        let Some(image) = &desired.image else {
            unreachable!("start is only called with an image")
        };
        // `<app>-<env>-…` in the system named after the app; other systems' containers carry
        // the system's name first, so two systems on one machine never look alike.
        let owner = if desired.app.as_str() == self.system {
            desired.app.to_string()
        } else {
            format!("{}-{}", self.system, desired.app)
        };
        let name = format!(
            "{owner}-{}-{:06x}",
            desired.env,
            rand::random::<u32>() & 0xff_ffff
        );
        let labels = HashMap::from([
            (LABEL_APP.to_owned(), desired.app.to_string()),
            (LABEL_SYSTEM.to_owned(), self.system.clone()),
            (LABEL_ENV.to_owned(), desired.env.to_string()),
            (LABEL_TAG.to_owned(), image.tag.to_string()),
            (LABEL_REVISION.to_owned(), desired.revision.to_string()),
            (LABEL_SPEC.to_owned(), spec.to_owned()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.name()),
            env: Some(
                desired
                    .variables
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            labels: Some(labels),
            // The other apps of the environment reach this one by its name.
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.to_owned(),
                    EndpointSettings {
                        aliases: Some(vec![desired.app.to_string()]),
                        ..Default::default()
                    },
                )])),
            }),
            exposed_ports: Some(vec![APP_PORT.to_owned()]),
            host_config: Some(HostConfig {
                network_mode: Some(network.to_owned()),
                port_bindings: Some(HashMap::from([(
                    APP_PORT.to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        host_port: Some(String::new()),
                    }]),
                )])),
                readonly_rootfs: Some(true),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_owned(),
                    "rw,noexec,nosuid,size=16m".to_owned(),
                )])),
                cap_drop: Some(vec!["ALL".to_owned()]),
                security_opt: Some(vec!["no-new-privileges".to_owned()]),
                memory: desired.memory_limit_bytes,
                nano_cpus: desired.cpu_limit_nanos,
                pids_limit: Some(256),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::ON_FAILURE),
                    maximum_retry_count: Some(3),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(docker(format!("create {name}")))?;
        self.docker
            .start_container(&name, None)
            .await
            .map_err(docker(format!("start {name}")))?;
        Ok(name)
    }

    /// Waits until `name` answers `/health` 200 and `/info` reports `build`; fails fast when
    /// the container exits or restarts.
    async fn wait_ready(
        &self,
        name: &str,
        image: &str,
        build: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = "not probed yet".to_owned();
        loop {
            let inspect = self
                .docker
                .inspect_container(name, None::<InspectContainerOptions>)
                .await
                .map_err(docker(format!("inspect {name}")))?;
            let state = inspect.state.clone().unwrap_or_default();
            let restarts = inspect.restart_count.unwrap_or_default();
            if !state.running.unwrap_or(false) || state.restarting.unwrap_or(false) || restarts > 0
            {
                return Err(Error::ReplicaFailed {
                    name: name.to_owned(),
                    image: image.to_owned(),
                    reason: format!(
                        "it exited with code {} ({} restarts)",
                        state.exit_code.unwrap_or_default(),
                        restarts
                    ),
                    logs: self.last_logs(name).await,
                });
            }
            let port = inspect
                .network_settings
                .and_then(|n| n.ports)
                .and_then(|p| p.get(APP_PORT).cloned().flatten())
                .and_then(|b| b.into_iter().find_map(|b| b.host_port));
            if let Some(port) = port {
                let probe = self.prober.probe(&format!("http://127.0.0.1:{port}")).await;
                if probe.runs(build) {
                    return Ok(());
                }
                last = match (probe.problem, probe.build_sha) {
                    (Some(problem), _) => problem,
                    (None, Some(found)) => format!("it reports build {found}, expected {build}"),
                    (None, None) => "it reports no build".to_owned(),
                };
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    name: name.to_owned(),
                    image: image.to_owned(),
                    timeout,
                    last,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn last_logs(&self, name: &str) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail("5")
            .build();
        let mut stream = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&chunk.to_string());
        }
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Stops (letting it drain) and removes a container; one already gone is fine.
    async fn remove(&self, name: &str) -> Result<()> {
        let stop = StopContainerOptionsBuilder::new().t(10).build();
        match self.docker.stop_container(name, Some(stop)).await {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(e) => return Err(docker(format!("stop {name}"))(e)),
        }
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(docker(format!("remove {name}"))(e)),
        }
    }

    /// Removes every app's replicas and the network of `env` (for tests and `sync --prune`).
    pub async fn teardown(&self, env: &EnvName) -> Result<()> {
        let of_env = format!("{LABEL_ENV}={env}");
        let mut replicas = self
            .listed(
                vec![format!("{LABEL_SYSTEM}={}", self.system), of_env.clone()],
                None,
                |_| true,
            )
            .await?;
        // Replicas started before environments were shared carry only their app's name.
        replicas.extend(
            self.listed(
                vec![format!("{LABEL_APP}={}", self.system), of_env],
                None,
                |labels| !labels.contains_key(LABEL_SYSTEM),
            )
            .await?,
        );
        for replica in replicas {
            self.remove(&replica.name).await?;
        }
        let name = self.network(env);
        let filters = HashMap::from([("name", vec![name.clone()])]);
        let networks = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(docker("list networks"))?;
        for network in networks
            .iter()
            .filter(|n| n.name.as_deref() == Some(name.as_str()))
        {
            if let Some(id) = &network.id {
                match self.docker.remove_network(id).await {
                    Ok(())
                    | Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(e) => return Err(docker(format!("remove network {name}"))(e)),
                }
            }
        }
        Ok(())
    }
}
