//! A simulated cluster with Argo CD, for whole-flow tests of the kube target: a tower-test
//! mock API server that answers the pipeline as Argo CD 3.x and the API server do.
//!
//! It reads the GitOps remote itself, as Argo CD's repo server would. Like Argo CD, it works
//! asynchronously: a refresh (or an explicit sync operation) is only queued, and a `GET`
//! still shows the state from before it; the queued work happens while the pipeline
//! watches, each step arriving as a watch event: first the comparison with the remote's tip
//! (`OutOfSync` at the new revision, the old live state), then the sync. A deny window holds
//! automated syncs back; an explicit sync operation always syncs (the window's
//! `manualSync: true`).
//!
//! Its pods run what the synced values pin (digest, tag, replica count) and answer `/health`
//! and `/info` through the pod proxy. A build listed in [`FakeCluster::failing`] never becomes
//! ready: its rollout ends `Degraded` with the previous build's pods still serving next to a
//! crash-looping new one (the chart's `maxUnavailable: 0`), and Argo CD's image summary lists
//! both images, as it does for every pod of the resource tree.
//!
//! The Application is shaped as Argo CD 3.x writes a two-source one (see
//! `crates/adapters/tests/kube_target.rs` for the upstream sources): revisions per source, an empty
//! `syncResult.revision`, no application-level health message; the Deployment carries the
//! `argocd.argoproj.io/tracking-id` annotation.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use adapters::target::KubeTarget;
use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use model::values::Document;
use serde_json::{Value, json};
use tower_test::mock;

mod objects;
use objects::*;

/// The app repository revision the chart source reports (Argo CD's first source).
const CHART_REVISION: &str = "9d1c0ab3f2e4d5c6b7a8091a2b3c4d5e6f708192";
const CHART_REPO: &str = "https://github.com/paktech/paktech-gitops.git";
const VALUES_REPO: &str = "https://github.com/paktech/paktech-gitops-state.git";

/// What the simulated Argo CD was asked to do, per environment.
#[derive(Debug, Default)]
pub struct Asked {
    pub refreshes: BTreeMap<String, usize>,
    /// Explicit sync operations, and the GitOps revision each synced.
    pub syncs: BTreeMap<String, Vec<String>>,
}

/// The simulated cluster's behaviour.
#[derive(Debug, Clone, Default)]
pub struct FakeCluster {
    /// The GitOps remote (a bare repository).
    pub remote: PathBuf,
    /// Whether a deny window holds automated syncs back.
    pub deny_window: bool,
    /// Environment → namespace.
    pub namespaces: BTreeMap<String, String>,
    /// Builds (image tags) whose pods never become ready.
    pub failing: BTreeSet<String>,
    /// While set, the API server answers every read of pods (the list, the pod proxy) with
    /// 503, as an API server that is restarting or overloaded does.
    pub outage: Arc<AtomicBool>,
}

/// Work Argo CD has been asked for and not done yet.
#[derive(Debug, Clone)]
enum Step {
    /// Compare the live state with the values at this revision.
    Compare(String),
    /// Sync to this revision; `automated` when Argo CD's own auto-sync does it.
    Sync { revision: String, automated: bool },
}

/// One Application's state.
#[derive(Debug, Default, Clone)]
struct AppState {
    /// The revision last compared.
    compared: Option<String>,
    /// The revision last synced.
    synced: Option<String>,
    /// The last synced revision whose build became ready: its pods keep serving while a
    /// later rollout fails.
    stable: Option<String>,
    /// `status.operationState` of the last sync.
    operation: Option<Value>,
    queued: VecDeque<Step>,
    version: u64,
}

impl FakeCluster {
    /// Puts `pipeline` on a simulated cluster that syncs from the GitOps remote `remote`, with
    /// the environments and namespaces of the pipeline's configuration; returns the task that
    /// serves it (see [`FakeCluster::target`]).
    pub fn host(
        pipeline: &mut flow::Pipeline,
        remote: PathBuf,
        deny_window: bool,
        failing: &[&str],
    ) -> tokio::task::JoinHandle<Asked> {
        let mut cluster = Self::of(pipeline, remote);
        cluster.deny_window = deny_window;
        cluster.failing = failing.iter().map(|b| (*b).to_owned()).collect();
        cluster.put(pipeline)
    }

    /// As [`FakeCluster::host`] without a deny window or failing builds, and the switch of
    /// its API server's outage (see [`FakeCluster::outage`]).
    pub fn host_with_outage(
        pipeline: &mut flow::Pipeline,
        remote: PathBuf,
    ) -> (tokio::task::JoinHandle<Asked>, Arc<AtomicBool>) {
        let cluster = Self::of(pipeline, remote);
        let outage = Arc::clone(&cluster.outage);
        (cluster.put(pipeline), outage)
    }

    /// A cluster with the pipeline's environments and namespaces, syncing from `remote`.
    fn of(pipeline: &flow::Pipeline, remote: PathBuf) -> Self {
        Self {
            remote,
            namespaces: pipeline
                .config
                .environments
                .iter()
                .map(|e| (e.name.to_string(), e.namespace.clone()))
                .collect(),
            ..Self::default()
        }
    }

    /// Makes this cluster `pipeline`'s target; returns the task that serves it.
    fn put(self, pipeline: &mut flow::Pipeline) -> tokio::task::JoinHandle<Asked> {
        let (target, task) = self.target();
        pipeline.target = adapters::target::Target::Kube(target);
        task
    }

    /// A kube target talking to this cluster, and the task that serves it; the task ends,
    /// returning what Argo CD was asked, once every clone of the target is dropped.
    pub fn target(self) -> (KubeTarget, tokio::task::JoinHandle<Asked>) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let namespaces = self
            .namespaces
            .iter()
            .map(|(env, ns)| (env.parse().expect("env"), ns.clone()))
            .collect();
        let target = KubeTarget::new(
            kube::Client::new(service, "default"),
            "paktech-app",
            namespaces,
        );
        (target, tokio::spawn(self.serve(handle)))
    }

    async fn serve(self, mut handle: mock::Handle<Request<Body>, Response<Body>>) -> Asked {
        let mut asked = Asked::default();
        let mut apps: BTreeMap<String, AppState> = BTreeMap::new();
        let mut open_watches = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.expect("body").to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let path = parts.uri.path().to_owned();
            let query = parts.uri.query().unwrap_or_default().to_owned();
            let tip = tip(&self.remote);
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            if self.outage.load(Ordering::SeqCst)
                && matches!(
                    segments.as_slice(),
                    ["api", "v1", "namespaces", _, "pods", ..]
                )
            {
                send.send_response(
                    Response::builder()
                        .status(503)
                        .header("content-type", "application/json")
                        .body(Body::from(
                            json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Failure", "reason": "ServiceUnavailable", "code": 503,
                            "message": "the server is currently unable to handle the request"})
                            .to_string()
                            .into_bytes(),
                        ))
                        .expect("response"),
                );
                continue;
            }
            let answer = match (parts.method.as_str(), segments.as_slice()) {
                (
                    method,
                    [
                        "apis",
                        "argoproj.io",
                        "v1alpha1",
                        "namespaces",
                        app_namespace,
                        "applications",
                        name,
                    ],
                ) => {
                    let env = name.trim_start_matches("paktech-app-").to_owned();
                    // Each environment's Application lives in the environment's namespace.
                    assert_eq!(
                        self.namespaces.get(&env).map(String::as_str),
                        Some(*app_namespace),
                        "{path}"
                    );
                    let app = apps.entry(env.clone()).or_default();
                    if method == "PATCH" {
                        if body
                            .pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
                            .is_some()
                        {
                            *asked.refreshes.entry(env.clone()).or_default() += 1;
                            app.queued.push_back(Step::Compare(tip.clone()));
                            if !self.deny_window {
                                app.queued.push_back(Step::Sync {
                                    revision: tip.clone(),
                                    automated: true,
                                });
                            }
                        }
                        if body.get("operation").is_some() {
                            asked
                                .syncs
                                .entry(env.clone())
                                .or_default()
                                .push(tip.clone());
                            app.queued.push_back(Step::Sync {
                                revision: tip.clone(),
                                automated: false,
                            });
                        }
                    }
                    Some(self.application(name, &env, app, &tip))
                }
                (
                    "GET",
                    [
                        "apis",
                        "argoproj.io",
                        "v1alpha1",
                        "namespaces",
                        _,
                        "applications",
                    ],
                ) if query.contains("watch=true") => {
                    let name = query
                        .split('&')
                        .find_map(|p| p.strip_prefix("fieldSelector=metadata.name%3D"))
                        .unwrap_or_default()
                        .to_owned();
                    let env = name.trim_start_matches("paktech-app-").to_owned();
                    let app = apps.entry(env.clone()).or_default();
                    if app.queued.is_empty() {
                        // Nothing to do: the watch stays open.
                        open_watches.push(send);
                        continue;
                    }
                    // Argo CD works through what it was asked, one status update per step;
                    // then this watch ends, as the API server ends watches.
                    let mut events = String::new();
                    while let Some(step) = app.queued.pop_front() {
                        self.apply(&env, app, step);
                        let object = self.application(&name, &env, app, &tip);
                        events.push_str(&json!({"type": "MODIFIED", "object": object}).to_string());
                        events.push('\n');
                    }
                    send.send_response(
                        Response::builder()
                            .status(200)
                            .header("content-type", "application/json")
                            .body(Body::from(events.into_bytes()))
                            .expect("response"),
                    );
                    continue;
                }
                (
                    "GET",
                    [
                        "apis",
                        "apps",
                        "v1",
                        "namespaces",
                        ns,
                        "deployments",
                        "paktech-app",
                    ],
                ) => self.live(ns, &apps).map(|live| deployment(ns, &live)),
                ("GET", ["api", "v1", "namespaces", ns, "pods"]) => Some(json!({
                    "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
                    "items": self.live(ns, &apps).map(|live| pods(ns, &live)).unwrap_or_default(),
                })),
                (
                    "GET",
                    [
                        "api",
                        "v1",
                        "namespaces",
                        ns,
                        "pods",
                        pod,
                        "proxy",
                        endpoint,
                    ],
                ) if !pod.contains("-crash") => self.live(ns, &apps).map(|live| match *endpoint {
                    "info" => json!({"build_sha": live.serving().tag, "version": "0.1.0"}),
                    _ => json!({"status": "ok"}),
                }),
                _ => None,
            };
            let (code, value) = match answer {
                Some(value) => (200, value),
                None => (
                    404,
                    json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                    "status": "Failure", "reason": "NotFound", "code": 404, "message": format!("{path} not found")}),
                ),
            };
            send.send_response(
                Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(value.to_string().into_bytes()))
                    .expect("response"),
            );
        }
        asked
    }

    /// Does one queued step of Argo CD's work.
    fn apply(&self, env: &str, app: &mut AppState, step: Step) {
        app.version += 1;
        match step {
            Step::Compare(revision) => app.compared = Some(revision),
            Step::Sync {
                revision,
                automated,
            } => {
                app.compared = Some(revision.clone());
                app.operation = Some(operation_state(&revision, automated));
                app.synced = Some(revision.clone());
                let fails = self
                    .env_values(env, &revision)
                    .and_then(|text| build(&text))
                    .is_some_and(|b| self.failing.contains(&b.tag));
                if !fails {
                    app.stable = Some(revision);
                }
            }
        }
    }

    fn env_of(&self, namespace: &str) -> Option<&str> {
        self.namespaces
            .iter()
            .find(|(_, ns)| *ns == namespace)
            .map(|(env, _)| env.as_str())
    }

    fn env_values(&self, env: &str, revision: &str) -> Option<String> {
        read(
            &self.remote,
            revision,
            &format!("apps/paktech-app/{env}/values.yaml"),
        )
    }

    /// What runs in `namespace`: the synced build, and while its rollout fails, the last
    /// build that became ready.
    fn live(&self, namespace: &str, apps: &BTreeMap<String, AppState>) -> Option<Live> {
        let env = self.env_of(namespace)?;
        self.live_of(env, apps.get(env)?)
    }

    fn live_of(&self, env: &str, app: &AppState) -> Option<Live> {
        let synced = build(&self.env_values(env, app.synced.as_deref()?)?)?;
        let failing = self.failing.contains(&synced.tag);
        let stable = app
            .stable
            .as_deref()
            .filter(|_| failing)
            .and_then(|r| self.env_values(env, r))
            .and_then(|text| build(&text));
        Some(Live {
            synced,
            failing,
            stable,
        })
    }
}

#[cfg(test)]
mod tests;
