//! A simulated cluster with Argo CD, for whole-flow tests of the kube target: a tower-test
//! mock API server that answers the pipeline as Argo CD and the API server do.
//!
//! It reads the GitOps remote itself, as Argo CD's repo server would. A refresh makes it
//! sync the remote's tip, unless a deny window holds automated syncs back; an explicit sync
//! operation always syncs (the window's `manualSync: true`). Its pods run what the synced
//! values pin (digest, tag, replica count) and answer `/health` and `/info` through the pod
//! proxy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use pipeline::adapters::target::KubeTarget;
use pipeline::values::Document;
use serde_json::{Value, json};
use tower_test::mock;

/// The app repository revision the chart source reports (Argo CD's first source).
const CHART_REVISION: &str = "9d1c0ab3f2e4d5c6b7a8091a2b3c4d5e6f708192";

/// What the simulated Argo CD was asked to do, per environment.
#[derive(Debug, Default)]
pub struct Asked {
    pub refreshes: BTreeMap<String, usize>,
    /// Explicit sync operations, and the GitOps revision each synced.
    pub syncs: BTreeMap<String, Vec<String>>,
}

/// The simulated cluster's behaviour.
#[derive(Debug, Clone)]
pub struct FakeCluster {
    /// The GitOps remote (a bare repository).
    pub remote: PathBuf,
    /// Whether a deny window holds automated syncs back.
    pub deny_window: bool,
    /// Environment → namespace.
    pub namespaces: BTreeMap<String, String>,
}

impl FakeCluster {
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
            "argocd",
            namespaces,
        );
        (target, tokio::spawn(self.serve(handle)))
    }

    async fn serve(self, mut handle: mock::Handle<Request<Body>, Response<Body>>) -> Asked {
        let mut asked = Asked::default();
        let mut synced: BTreeMap<String, String> = BTreeMap::new();
        let mut open_watches = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await.expect("body").to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let path = parts.uri.path().to_owned();
            let query = parts.uri.query().unwrap_or_default().to_owned();
            let tip = tip(&self.remote);
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let answer = match (parts.method.as_str(), segments.as_slice()) {
                (
                    method,
                    [
                        "apis",
                        "argoproj.io",
                        "v1alpha1",
                        "namespaces",
                        "argocd",
                        "applications",
                        name,
                    ],
                ) => {
                    let env = name.trim_start_matches("paktech-app-").to_owned();
                    if method == "PATCH" {
                        if body
                            .pointer("/metadata/annotations/argocd.argoproj.io~1refresh")
                            .is_some()
                        {
                            *asked.refreshes.entry(env.clone()).or_default() += 1;
                            if !self.deny_window {
                                synced.insert(env.clone(), tip.clone());
                            }
                        }
                        if body.get("operation").is_some() {
                            asked
                                .syncs
                                .entry(env.clone())
                                .or_default()
                                .push(tip.clone());
                            synced.insert(env.clone(), tip.clone());
                        }
                    }
                    let ns = self.namespaces.get(&env).cloned().unwrap_or_default();
                    let images = self
                        .running(&ns, &synced)
                        .map(|r| vec![format!("{}@{}", r.repository, r.digest)])
                        .unwrap_or_default();
                    Some(application(name, synced.get(&env), &tip, &images))
                }
                (
                    "GET",
                    [
                        "apis",
                        "argoproj.io",
                        "v1alpha1",
                        "namespaces",
                        "argocd",
                        "applications",
                    ],
                ) if query.contains("watch=true") => {
                    // Nothing changes on its own here: the watch stays open.
                    open_watches.push(send);
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
                ) => self.running(ns, &synced).map(|r| deployment(ns, &r)),
                ("GET", ["api", "v1", "namespaces", ns, "pods"]) => Some(json!({
                    "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"},
                    "items": self.running(ns, &synced).map(|r| pods(ns, &r)).unwrap_or_default(),
                })),
                ("GET", ["api", "v1", "namespaces", ns, "pods", _, "proxy", endpoint]) => {
                    self.running(ns, &synced).map(|r| match *endpoint {
                        "info" => json!({"build_sha": r.tag, "version": "0.1.0"}),
                        _ => json!({"status": "ok"}),
                    })
                }
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

    /// What runs in `namespace`: the values its environment was last synced at.
    fn running(&self, namespace: &str, synced: &BTreeMap<String, String>) -> Option<Running> {
        let env = self.namespaces.iter().find(|(_, ns)| *ns == namespace)?.0;
        let revision = synced.get(env)?;
        let path = format!("apps/paktech-app/{env}/values.yaml");
        let text = read(&self.remote, revision, &path)?;
        let doc = Document::parse(path, text).expect("values");
        let get = |key: &str| doc.get(key).unwrap_or_default().to_owned();
        Some(Running {
            repository: get("image.repository"),
            tag: get("image.tag"),
            digest: get("image.digest"),
            replicas: get("replicaCount").parse().unwrap_or(1),
        })
    }
}

struct Running {
    repository: String,
    tag: String,
    digest: String,
    replicas: u32,
}

fn tip(remote: &Path) -> String {
    let repo = git2::Repository::open_bare(remote).expect("remote");
    repo.refname_to_id("refs/heads/main")
        .expect("main")
        .to_string()
}

fn read(remote: &Path, revision: &str, path: &str) -> Option<String> {
    let repo = git2::Repository::open_bare(remote).ok()?;
    let commit = repo.find_commit(git2::Oid::from_str(revision).ok()?).ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

fn application(name: &str, synced: Option<&String>, tip: &str, images: &[String]) -> Value {
    let in_sync = synced.is_some_and(|s| s == tip);
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "1000"},
        "status": {
            "sync": {
                "status": if in_sync { "Synced" } else { "OutOfSync" },
                "revisions": [CHART_REVISION, tip],
            },
            "health": {"status": "Healthy"},
            "summary": {"images": images},
        },
    })
}

fn deployment(namespace: &str, running: &Running) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "paktech-app", "namespace": namespace, "generation": 2},
        "spec": {
            "replicas": running.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "paktech-app", "app.kubernetes.io/instance": "paktech-app"}},
            "template": {},
        },
        "status": {
            "observedGeneration": 2,
            "replicas": running.replicas,
            "updatedReplicas": running.replicas,
            "readyReplicas": running.replicas,
            "availableReplicas": running.replicas,
        },
    })
}

fn pods(namespace: &str, running: &Running) -> Vec<Value> {
    let hash = running.tag.get(..10).unwrap_or("0000000000");
    (0..running.replicas)
        .map(|i| {
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("paktech-app-{hash}-{i}"),
                    "namespace": namespace,
                    "labels": {"app.kubernetes.io/name": "paktech-app", "app.kubernetes.io/instance": "paktech-app",
                        "app.kubernetes.io/version": running.tag},
                },
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [{
                        "name": "paktech-app", "ready": true, "restartCount": 0,
                        "image": format!("{}:{}", running.repository, running.tag),
                        "imageID": format!("{}@{}", running.repository, running.digest),
                    }],
                },
            })
        })
        .collect()
}
