//! The kube target: environments are namespaces of a Kubernetes cluster where Argo CD syncs
//! one Application per environment (`<app>-<env>`, from the bootstrap ApplicationSet).
//!
//! The pipeline never applies manifests itself. After a GitOps push it asks Argo CD to
//! refresh the Application (or, inside a deny window, starts an explicit sync), **watches**
//! the Application until it is Synced to the pushed revision and Healthy, then checks what
//! really runs: every live pod of the Deployment must report the pinned digest as its
//! container `imageID`. Probes go through the API server's pod proxy, so no ingress or
//! public address is needed.

pub mod access;
pub mod argo;
pub mod pods;

use std::collections::BTreeMap;
use std::time::Duration;

use ::kube::Client;
use ::kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, WatchEvent,
    WatchParams,
};
use futures_util::TryStreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use self::argo::{ApplicationStatus, Verdict};
use super::{Convergence, Replica, SyncMode};
use crate::desired::DesiredState;
use crate::model::EnvName;
use crate::model::{MetricsSnapshot, Probe};
use crate::report::Reporter;

/// The port the chart's container listens on (`containerPort: 8080`).
pub const APP_PORT: u16 = 8080;

/// How long one watch request may stay open before the API server ends it and the pipeline
/// reads the Application afresh.
const WATCH_SECONDS: u32 = 60;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API, {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: ::kube::Error,
    },
    #[error("{env} has no namespace; expected it among pipeline.toml's environments")]
    UnknownEnv { env: String },
    #[error("Argo CD application {application} is not readable: {source}")]
    Unreadable {
        application: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "Argo CD application {application} was not synced to {revision} and healthy within {}s; last observed: {last}",
        timeout.as_secs()
    )]
    NotSynced {
        application: String,
        revision: String,
        timeout: Duration,
        last: String,
    },
    #[error(
        "Argo CD application {application} failed to roll out {revision}: {reason}; last observed: {last}"
    )]
    SyncFailed {
        application: String,
        revision: String,
        reason: String,
        last: String,
    },
    #[error(
        "Argo CD has no application {application} in namespace {namespace}; apply gitops/bootstrap/ to the cluster (`cargo xtask cluster up` does on kind)"
    )]
    NoApplication {
        application: String,
        namespace: String,
    },
    #[error("Argo CD application {application} was deleted while the pipeline waited for it")]
    Deleted { application: String },
    #[error("deployment {namespace}/{name} does not exist, though Argo CD reports it synced")]
    NoDeployment { namespace: String, name: String },
    #[error("deployment {namespace}/{name} selects its pods by expressions; expected matchLabels")]
    NoSelector { namespace: String, name: String },
    #[error("deployment {namespace}/{name} is synced but its rollout is not complete: {why}")]
    RolloutIncomplete {
        namespace: String,
        name: String,
        why: String,
    },
    #[error(
        "pod {namespace}/{pod} runs {found}, but {env}'s values pin {expected}; refusing to call it deployed"
    )]
    WrongImage {
        namespace: String,
        pod: String,
        env: String,
        expected: String,
        found: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn api(action: impl Into<String>) -> impl FnOnce(::kube::Error) -> Error {
    let action = action.into();
    move |source| Error::Api { action, source }
}

/// The image as the chart names it in the Deployment: by digest when the values pin one.
fn chart_image(desired: &DesiredState) -> String {
    match &desired.image {
        Some(image) => match &image.digest {
            Some(digest) => format!("{}@{digest}", image.repository),
            None => image.name(),
        },
        None => String::new(),
    }
}

/// Environments as namespaces of a cluster synced by Argo CD.
#[derive(Clone)]
pub struct KubeTarget {
    client: Client,
    app: String,
    argocd_namespace: String,
    namespaces: BTreeMap<EnvName, String>,
    probe_timeout: Duration,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("app", &self.app)
            .field("argocd_namespace", &self.argocd_namespace)
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl KubeTarget {
    /// `app` names the Deployment, its container and (as `<app>-<env>`) the Applications in
    /// `argocd_namespace`; `namespaces` maps each environment to its namespace.
    pub fn new(
        client: Client,
        app: &str,
        argocd_namespace: &str,
        namespaces: BTreeMap<EnvName, String>,
    ) -> Self {
        Self {
            client,
            app: app.to_owned(),
            argocd_namespace: argocd_namespace.to_owned(),
            namespaces,
            probe_timeout: Duration::from_secs(5),
        }
    }

    pub fn app(&self) -> &str {
        &self.app
    }

    /// The Argo CD Application of `env`.
    pub fn application(&self, env: &EnvName) -> String {
        argo::application_name(&self.app, env.as_str())
    }

    fn namespace(&self, env: &EnvName) -> Result<&str> {
        self.namespaces
            .get(env)
            .map(String::as_str)
            .ok_or_else(|| Error::UnknownEnv {
                env: env.to_string(),
            })
    }

    fn applications(&self) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk(argo::GROUP, argo::VERSION, argo::KIND);
        Api::namespaced_with(
            self.client.clone(),
            &self.argocd_namespace,
            &ApiResource::from_gvk_with_plural(&gvk, argo::PLURAL),
        )
    }

    fn status_of(&self, name: &str, object: &DynamicObject) -> Result<ApplicationStatus> {
        ApplicationStatus::of(&object.data).map_err(|source| Error::Unreadable {
            application: name.to_owned(),
            source,
        })
    }

    /// The Application of `name`; its absence is an error naming the bootstrap.
    async fn get_application(
        &self,
        applications: &Api<DynamicObject>,
        name: &str,
    ) -> Result<DynamicObject> {
        applications
            .get_opt(name)
            .await
            .map_err(api(format!("get application {name}")))?
            .ok_or_else(|| Error::NoApplication {
                application: name.to_owned(),
                namespace: self.argocd_namespace.clone(),
            })
    }

    /// Merge-patches the Application `name` (`what` names the request in errors).
    async fn patch_application(
        &self,
        name: &str,
        body: serde_json::Value,
        what: &str,
    ) -> Result<()> {
        match self
            .applications()
            .patch(name, &PatchParams::default(), &Patch::Merge(body))
            .await
        {
            Ok(_) => Ok(()),
            Err(::kube::Error::Api(status)) if status.code == 404 => Err(Error::NoApplication {
                application: name.to_owned(),
                namespace: self.argocd_namespace.clone(),
            }),
            Err(e) => Err(api(format!("{what} application {name}"))(e)),
        }
    }

    /// The Application's status as Argo CD last wrote it.
    pub async fn status(&self, env: &EnvName) -> Result<ApplicationStatus> {
        let name = self.application(env);
        let object = self.get_application(&self.applications(), &name).await?;
        self.status_of(&name, &object)
    }

    /// Whether Argo CD has yet to roll `desired.revision` out.
    pub async fn pending(&self, desired: &DesiredState) -> Result<bool> {
        let status = self.status(&desired.env).await?;
        Ok(status.verdict(desired.revision.as_str(), &chart_image(desired)) != Verdict::Done)
    }

    /// Has Argo CD roll `desired` out and checks the result (see the module's documentation).
    #[tracing::instrument(skip_all, fields(env = %desired.env, revision = %desired.revision))]
    pub async fn converge(
        &self,
        desired: &DesiredState,
        timeout: Duration,
        mode: SyncMode,
        reporter: &dyn Reporter,
    ) -> Result<Convergence> {
        let namespace = self.namespace(&desired.env)?;
        if desired.image.is_none() {
            // Never deployed: the values name no build, so there is nothing to roll out.
            return Ok(Convergence::default());
        }
        let name = self.application(&desired.env);
        let before = self.live_pod_names(namespace).await?;
        self.patch_application(&name, argo::refresh_patch(), "refresh")
            .await?;
        if mode == SyncMode::Explicit {
            self.patch_application(&name, argo::sync_patch(), "sync")
                .await?;
            reporter.progress(
                "sync",
                format!("{name}: started an explicit sync (manual syncs pass a deny window)"),
            );
        }
        if let Err(error) = self.await_rollout(&name, desired, timeout, reporter).await {
            return Err(self.with_rollout_state(error, namespace).await);
        }
        let after = self.verify(desired, namespace).await?;
        Ok(Convergence::between(&before, &after))
    }

    /// Watches the Application until it is Synced to `revision` and Healthy. A watch ended by
    /// the server (or a stale resource version) reads the Application afresh and watches on.
    async fn await_rollout(
        &self,
        name: &str,
        desired: &DesiredState,
        timeout: Duration,
        reporter: &dyn Reporter,
    ) -> Result<()> {
        let revision = desired.revision.as_str();
        let image = chart_image(desired);
        let applications = self.applications();
        let mut last: Option<ApplicationStatus> = None;
        let watching = async {
            loop {
                let object = self.get_application(&applications, name).await?;
                if self.observe(name, (revision, &image), &object, &mut last, reporter)? {
                    return Ok(());
                }
                let version = object.metadata.resource_version.clone().unwrap_or_default();
                let params = WatchParams::default()
                    .fields(&format!("metadata.name={name}"))
                    .timeout(WATCH_SECONDS);
                let mut events = Box::pin(
                    applications
                        .watch(&params, &version)
                        .await
                        .map_err(api(format!("watch application {name}")))?,
                );
                while let Some(event) = events
                    .try_next()
                    .await
                    .map_err(api(format!("watch application {name}")))?
                {
                    match event {
                        WatchEvent::Added(object) | WatchEvent::Modified(object) => {
                            if self.observe(
                                name,
                                (revision, &image),
                                &object,
                                &mut last,
                                reporter,
                            )? {
                                return Ok(());
                            }
                        }
                        WatchEvent::Deleted(_) => {
                            return Err(Error::Deleted {
                                application: name.to_owned(),
                            });
                        }
                        WatchEvent::Bookmark(_) => {}
                        // 410 Gone: the resource version is too old; read afresh.
                        WatchEvent::Error(status) if status.code == 410 => break,
                        WatchEvent::Error(status) => {
                            return Err(Error::Api {
                                action: format!("watch application {name}"),
                                source: ::kube::Error::Api(status),
                            });
                        }
                    }
                }
            }
        };
        let outcome = tokio::time::timeout(timeout, watching).await;
        let last = || {
            last.as_ref()
                .map_or_else(|| "nothing yet".to_owned(), ToString::to_string)
        };
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Error::SyncFailed { reason, .. })) => Err(Error::SyncFailed {
                application: name.to_owned(),
                revision: revision.to_owned(),
                reason,
                last: last(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_elapsed) => Err(Error::NotSynced {
                application: name.to_owned(),
                revision: revision.to_owned(),
                timeout,
                last: last(),
            }),
        }
    }

    /// Adds the Deployment's own rollout state to a timeout or a failed rollout's last
    /// observation (Argo CD 3.x says only `Progressing` or `Degraded`, not why). A Deployment
    /// that cannot be read leaves the error as it is.
    async fn with_rollout_state(&self, error: Error, namespace: &str) -> Error {
        let (Error::NotSynced { last, .. } | Error::SyncFailed { last, .. }) = &error else {
            return error;
        };
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let Ok(Some(deployment)) = deployments.get_opt(&self.app).await else {
            return error;
        };
        let Some(state) = pods::rollout_state(&deployment) else {
            return error;
        };
        let last = format!("{last}; deployment {namespace}/{}: {state}", self.app);
        match error {
            Error::NotSynced {
                application,
                revision,
                timeout,
                ..
            } => Error::NotSynced {
                application,
                revision,
                timeout,
                last,
            },
            Error::SyncFailed {
                application,
                revision,
                reason,
                ..
            } => Error::SyncFailed {
                application,
                revision,
                reason,
                last,
            },
            other => other,
        }
    }

    /// Records one observation of the Application; `true` once it is done, an error once it
    /// failed. Reports each new state once.
    fn observe(
        &self,
        name: &str,
        (revision, image): (&str, &str),
        object: &DynamicObject,
        last: &mut Option<ApplicationStatus>,
        reporter: &dyn Reporter,
    ) -> Result<bool> {
        let status = self.status_of(name, object)?;
        if last.as_ref() != Some(&status) {
            reporter.progress("sync", format!("{name}: {status}"));
        }
        let verdict = status.verdict(revision, image);
        *last = Some(status);
        match verdict {
            Verdict::Done => Ok(true),
            Verdict::Waiting => Ok(false),
            Verdict::Failed(reason) => Err(Error::SyncFailed {
                application: name.to_owned(),
                revision: revision.to_owned(),
                reason,
                last: String::new(),
            }),
        }
    }

    /// The Deployment of the app in `namespace` and its live pods; `None` before the first
    /// sync created it.
    async fn deployment(&self, namespace: &str) -> Result<Option<(Deployment, Vec<Pod>)>> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let Some(deployment) = deployments
            .get_opt(&self.app)
            .await
            .map_err(api(format!("get deployment {namespace}/{}", self.app)))?
        else {
            return Ok(None);
        };
        let selector = pods::selector(&deployment).ok_or_else(|| Error::NoSelector {
            namespace: namespace.to_owned(),
            name: self.app.clone(),
        })?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut live: Vec<Pod> = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(api(format!("list pods of {namespace}/{}", self.app)))?
            .items
            .into_iter()
            .filter(pods::is_live)
            .collect();
        live.sort_by_key(pods::name);
        Ok(Some((deployment, live)))
    }

    async fn live_pod_names(&self, namespace: &str) -> Result<Vec<String>> {
        Ok(self
            .deployment(namespace)
            .await?
            .map(|(_, pods)| pods.iter().map(pods::name).collect())
            .unwrap_or_default())
    }

    /// Checks that the Deployment finished rolling out and every live pod runs the pinned
    /// image (by digest when the values pin one, else by the build label); returns the pods.
    async fn verify(&self, desired: &DesiredState, namespace: &str) -> Result<Vec<String>> {
        let Some(image) = &desired.image else {
            return Ok(Vec::new());
        };
        let (deployment, live) =
            self.deployment(namespace)
                .await?
                .ok_or_else(|| Error::NoDeployment {
                    namespace: namespace.to_owned(),
                    name: self.app.clone(),
                })?;
        if let Some(why) = pods::rollout_incomplete(&deployment) {
            return Err(Error::RolloutIncomplete {
                namespace: namespace.to_owned(),
                name: self.app.clone(),
                why,
            });
        }
        for pod in &live {
            let (expected, found, matches) = match &image.digest {
                Some(digest) => {
                    let found = pods::image_id(pod, &self.app).unwrap_or("no image yet");
                    (
                        digest.to_string(),
                        found.to_owned(),
                        pods::is_digest(found, digest.as_str()),
                    )
                }
                None => {
                    let found = pods::build(pod);
                    let expected = image.tag.to_string();
                    let matches = found == expected;
                    (expected, format!("build {found:?}"), matches)
                }
            };
            if !matches {
                return Err(Error::WrongImage {
                    namespace: namespace.to_owned(),
                    pod: pods::name(pod),
                    env: desired.env.to_string(),
                    expected,
                    found,
                });
            }
        }
        Ok(live.iter().map(pods::name).collect())
    }

    /// Probes every live pod of `env` through the API server's pod proxy.
    pub async fn probe(&self, env: &EnvName) -> Result<Vec<(Replica, Probe)>> {
        let mut probes = Vec::new();
        for (replica, base) in self.probe_targets(env).await? {
            let probe = self.probe_through_proxy(&base).await;
            probes.push((replica, probe));
        }
        Ok(probes)
    }

    /// Every started pod of `env` as a replica, with its pod proxy path.
    async fn probe_targets(&self, env: &EnvName) -> Result<Vec<(Replica, String)>> {
        let namespace = self.namespace(env)?;
        let status = self.status(env).await?;
        let revision = status
            .sync
            .revision
            .clone()
            .or_else(|| status.sync.revisions.last().cloned())
            .unwrap_or_default();
        let Some((_, live)) = self.deployment(namespace).await? else {
            return Ok(Vec::new());
        };
        // A pod still being scheduled or pulling its image serves nothing and is not a replica
        // yet (an autoscaler's new pod must not read as a failure while it starts). Every pod
        // whose containers were started is probed, ready or not: the proxy reaches it anyway,
        // and a crash-looping one fails its probe and counts its restarts.
        Ok(live
            .iter()
            .filter(|pod| pods::is_started(pod))
            .map(|pod| {
                let base = format!(
                    "/api/v1/namespaces/{namespace}/pods/{}:{APP_PORT}/proxy",
                    pods::name(pod)
                );
                (pods::replica(pod, &self.app, &revision, base.clone()), base)
            })
            .collect())
    }

    /// Reads `/metrics` of every started pod of `env` through the API server's pod proxy
    /// (the same call as the probes: `get pods/proxy`).
    pub async fn metrics(&self, env: &EnvName) -> Result<MetricsSnapshot> {
        let mut snapshot = MetricsSnapshot::default();
        for (replica, base) in self.probe_targets(env).await? {
            let read = self.proxy_get(&format!("{base}/metrics")).await;
            let parsed = read
                .map_err(|why| format!("/metrics {why}"))
                .and_then(|text| {
                    crate::adapters::metrics::parse(&replica.name, &replica.tag, &text)
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(read) => snapshot.replicas.push(read),
                Err(why) => snapshot.unreadable.push(format!("{}: {why}", replica.name)),
            }
        }
        Ok(snapshot)
    }

    /// Sends a synthetic `GET /` to a pod through the API server's pod proxy (the same call as
    /// the probes), given the pod's proxy path as its address; bounded by the probe timeout.
    pub fn load_sender(&self) -> crate::adapters::load::SendOne {
        let client = self.client.clone();
        let timeout = self.probe_timeout;
        std::sync::Arc::new(move |base: String| {
            let client = client.clone();
            Box::pin(async move {
                use crate::adapters::load::Answer;
                let Ok(request) = http::Request::get(format!("{base}/")).body(Vec::new()) else {
                    return Answer::Unanswered;
                };
                match tokio::time::timeout(timeout, client.request_text(request)).await {
                    Ok(Ok(_)) => Answer::Served,
                    // The pod's (or the proxy's) error status: an answer, counted as the
                    // status says.
                    Ok(Err(::kube::Error::Api(status))) => Answer::of_status(status.code),
                    Ok(Err(_)) | Err(_) => Answer::Unanswered,
                }
            })
        })
    }

    async fn proxy_get(&self, path: &str) -> std::result::Result<String, String> {
        let request = http::Request::get(path)
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.probe_timeout, self.client.request_text(request)).await {
            Err(_) => Err(format!(
                "no answer within {}s",
                self.probe_timeout.as_secs()
            )),
            Ok(Ok(text)) => Ok(text),
            Ok(Err(::kube::Error::Api(status))) => Err(format!("answered {}", status.code)),
            Ok(Err(e)) => Err(e.to_string()),
        }
    }

    async fn probe_through_proxy(&self, base: &str) -> Probe {
        let mut probe = Probe {
            url: base.to_owned(),
            healthy: false,
            build_sha: None,
            problem: None,
        };
        match self.proxy_get(&format!("{base}/health")).await {
            Ok(_) => probe.healthy = true,
            Err(e) => probe.problem = Some(format!("/health {e}")),
        }
        match self.proxy_get(&format!("{base}/info")).await {
            Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(info) => probe.build_sha = info["build_sha"].as_str().map(str::to_owned),
                Err(e) => {
                    probe.problem.get_or_insert(format!("/info: {e}"));
                }
            },
            Err(e) => {
                probe.problem.get_or_insert(format!("/info {e}"));
            }
        }
        probe
    }
}
