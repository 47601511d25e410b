//! The mock Kubernetes API server the kube target's tests run against (tower-test), fed
//! Application, Deployment and Pod JSON shaped as Argo CD 3.x and the API server serve them
//! (`tests/fixtures/kube/`; `kube_target.rs` says where each shape was read from). Every
//! request is checked against `kube::access::ACCESS`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use adapters::target::kube::{Error, KubeTarget};
use adapters::target::{Convergence, SyncMode};
use http::{Request, Response};
use http_body_util::BodyExt;
use kube::client::Body;
use model::ImageTag;
use model::desired::{DesiredState, PinnedImage};
use model::report::Silent;
use serde_json::{Value, json};
use tower_test::mock;

/// The GitOps revision the pipeline just pushed.
pub const REV: &str = "4444444444444444444444444444444444444444";
/// The revision Argo CD last synced before it (the fixture's).
pub const OLD: &str = "2222222222222222222222222222222222222222";
/// The build (image tag) and the digest the values pin (the fixtures').
pub const BUILD: &str = "1111111111111111111111111111111111111111";
pub const DIGEST: &str = "sha256:5c1c4b0f6a6f3e0d3d2b1a09f8e7d6c5b4a392817161514131211100f0e0d0c0";
pub const OTHER_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000bad";

pub const APPLICATION: &str =
    "/apis/argoproj.io/v1alpha1/namespaces/paktech-dev/applications/paktech-app-dev";
pub const APPLICATIONS: &str = "/apis/argoproj.io/v1alpha1/namespaces/paktech-dev/applications";
pub const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/paktech-dev/deployments/paktech-app";
pub const PODS: &str = "/api/v1/namespaces/paktech-dev/pods";

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/kube/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// The fixture Deployment in the middle of a rollout: `updated` of its 2 replicas updated,
/// and with `deadline`, given up on by the controller.
pub fn deployment_mid_rollout(updated: i32, deadline: bool) -> Value {
    let mut deployment = fixture("deployment");
    deployment["metadata"]["generation"] = json!(10);
    let status = &mut deployment["status"];
    status["observedGeneration"] = json!(10);
    status["updatedReplicas"] = json!(updated);
    status["replicas"] = json!(3);
    if deadline {
        status["conditions"][1] = json!({"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"paktech-app-7f4c9d2e1b\" has timed out progressing."});
    }
    deployment
}

/// The fixture Application with its values source at `revision`. Like Argo CD 3.x, it
/// carries no application-level health message.
pub fn application(sync: &str, revision: &str, health: &str) -> Value {
    let mut app = fixture("application");
    let status = &mut app["status"];
    status["sync"]["status"] = json!(sync);
    status["sync"]["revisions"][1] = json!(revision);
    status["health"] = json!({"status": health, "lastTransitionTime": "2026-11-26T21:00:00Z"});
    // What runs: the pinned build once the pushed revision is synced, the old one before.
    let live = if revision == REV && sync == "Synced" {
        DIGEST
    } else {
        OTHER_DIGEST
    };
    status["summary"]["images"] = json!([format!("localhost:5001/paktech-app@{live}")]);
    app
}

pub fn pod(name: &str, image_id: &str) -> Value {
    let mut pod = fixture("pod");
    pod["metadata"]["name"] = json!(name);
    pod["status"]["containerStatuses"][0]["imageID"] =
        json!(format!("localhost:5001/paktech-app@{image_id}"));
    pod
}

pub fn desired() -> DesiredState {
    DesiredState {
        app: "paktech-app".parse().expect("app"),
        env: "dev".parse().expect("env"),
        revision: REV.parse().expect("revision"),
        image: Some(PinnedImage {
            repository: "localhost:5001/paktech-app".parse().expect("repository"),
            tag: ImageTag::clean(BUILD.parse().expect("sha")),
            digest: Some(DIGEST.parse().expect("digest")),
        }),
        replicas: 2,
        min_available: 1,
        variables: BTreeMap::new(),
        memory_limit_bytes: None,
        cpu_limit_nanos: None,
    }
}

/// What the mock cluster serves.
pub struct Cluster {
    /// The Application as a GET first finds it; the rest arrive as watch events, after
    /// which the watch stays open.
    pub application: Vec<Value>,
    /// Pods while the Application has not reached its last state, and after.
    pub pods_before: Vec<Value>,
    pub pods: Vec<Value>,
    /// Pod proxy answers by `<pod>/<path>`.
    pub proxy: BTreeMap<String, (u16, String)>,
    /// The Deployment (the fixture's, rolled out, unless a test says otherwise).
    pub deployment: Value,
}

impl Cluster {
    pub fn new(application: Vec<Value>, pods: Vec<Value>) -> Self {
        Self {
            application,
            pods_before: pods.clone(),
            pods,
            proxy: BTreeMap::new(),
            deployment: fixture("deployment"),
        }
    }
}

/// One request the target made.
#[derive(Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Value,
}

pub fn status_json(code: u16, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": "NotFound", "code": code})
    .to_string()
}

/// Answers the target's requests as an API server with Argo CD would, until the client goes.
pub async fn serve(
    mut handle: mock::Handle<Request<Body>, Response<Body>>,
    cluster: Cluster,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    let mut open_watches = Vec::new();
    let mut delivered = false;
    let last = cluster.application.len() - 1;
    let mut current = 0;
    while let Some((request, send)) = handle.next_request().await {
        let (parts, body) = request.into_parts();
        let bytes = body.collect().await.expect("request body").to_bytes();
        let request = Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        };
        // A call not in kube::access::ACCESS would have no grant on a real cluster.
        {
            use adapters::target::kube::access::{RequestAttributes, allowed};
            let attributes = RequestAttributes::of(&request.method, &request.path, &request.query);
            assert!(
                attributes.is_some_and(|a| allowed(&a, &["paktech-dev", "paktech-prod"])),
                "a request kube::access::ACCESS does not list (list it and grant it): {request:?}"
            );
        }
        let (code, text) = match (request.method.as_str(), request.path.as_str()) {
            ("GET" | "PATCH", APPLICATION) => (200, cluster.application[current].to_string()),
            ("GET", APPLICATIONS) if request.query.contains("watch=true") => {
                assert!(
                    request.query.contains("metadata.name%3Dpaktech-app-dev"),
                    "{request:?}"
                );
                if delivered || last == 0 {
                    // Nothing more happens: the watch stays open.
                    open_watches.push(send);
                    seen.push(request);
                    continue;
                }
                delivered = true;
                current = last;
                let events: String = cluster.application[1..]
                    .iter()
                    .map(|object| format!("{}\n", json!({"type": "MODIFIED", "object": object})))
                    .collect();
                (200, events)
            }
            ("GET", DEPLOYMENT) => (200, cluster.deployment.to_string()),
            ("GET", PODS) => {
                assert!(
                    request.query.contains("labelSelector=app.kubernetes.io%2Finstance%3Dpaktech-app%2Capp.kubernetes.io%2Fname%3Dpaktech-app"),
                    "{request:?}"
                );
                let items = if current == last {
                    &cluster.pods
                } else {
                    &cluster.pods_before
                };
                (200, json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "918400"}, "items": items}).to_string())
            }
            ("GET", path)
                if path.starts_with(&format!("{PODS}/")) && path.contains(":8080/proxy/") =>
            {
                let key = path
                    .trim_start_matches(&format!("{PODS}/"))
                    .replace(":8080/proxy", "");
                cluster
                    .proxy
                    .get(&key)
                    .cloned()
                    .unwrap_or((503, status_json(503, "no endpoints available")))
            }
            _ => (404, status_json(404, "not found")),
        };
        seen.push(request);
        send.send_response(
            Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(text.into_bytes()))
                .expect("response"),
        );
    }
    seen
}

/// Runs `work` against a kube target whose API server is `cluster`; returns its result and
/// every request it made.
pub async fn against<T, F>(cluster: Cluster, work: impl FnOnce(KubeTarget) -> F) -> (T, Vec<Seen>)
where
    F: std::future::Future<Output = T>,
{
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(serve(handle, cluster));
    let namespaces = [("dev", "paktech-dev"), ("prod", "paktech-prod")]
        .into_iter()
        .map(|(env, ns)| (env.parse().expect("env"), ns.to_owned()))
        .collect();
    let target = KubeTarget::new(
        kube::Client::new(service, "default"),
        "paktech-app",
        namespaces,
    );
    let result = work(target).await;
    let seen = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the mock server ends once the client is gone")
        .expect("mock server");
    (result, seen)
}

pub async fn converge(
    cluster: Cluster,
    timeout: Duration,
    mode: SyncMode,
) -> (Result<Convergence, Error>, Vec<Seen>) {
    against(cluster, |target| async move {
        target.converge(&desired(), timeout, mode, &Silent).await
    })
    .await
}

pub fn patches(seen: &[Seen]) -> Vec<&Value> {
    seen.iter()
        .filter(|s| s.method == "PATCH" && s.path == APPLICATION)
        .map(|s| &s.body)
        .collect()
}
