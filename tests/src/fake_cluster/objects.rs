//! The objects the stand-in answers with, shaped as Argo CD and Kubernetes serve them: an Application's sources and operation state, the Deployment and its pods of what runs, and the values read from the GitOps remote at a revision.

use super::*;

pub(super) fn sources(env: &str) -> Value {
    json!([
        {"helm": {"releaseName": "paktech-app", "valueFiles": [format!("$values/apps/paktech-app/{env}/values.yaml")]},
            "path": "helm/paktech-app", "repoURL": CHART_REPO, "targetRevision": "main"},
        {"ref": "values", "repoURL": VALUES_REPO, "targetRevision": "main"},
    ])
}

/// `status.operationState` after a sync of `revision` (Argo CD v3.2.0 `controller/sync.go`:
/// the result names one revision per source and leaves the single `revision` empty).
pub(super) fn operation_state(revision: &str, automated: bool) -> Value {
    let initiated_by = if automated {
        json!({"automated": true})
    } else {
        json!({"username": "paktech-pipeline"})
    };
    json!({
        "phase": "Succeeded",
        "message": "successfully synced (all tasks run)",
        "startedAt": "2026-11-26T12:00:00Z",
        "finishedAt": "2026-11-26T12:00:02Z",
        "operation": {
            "initiatedBy": initiated_by,
            "sync": {"prune": true, "revisions": [CHART_REVISION, revision]},
        },
        "syncResult": {"revision": "", "revisions": [CHART_REVISION, revision]},
    })
}

#[derive(Debug, Clone)]
pub(super) struct Running {
    pub(super) repository: String,
    pub(super) tag: String,
    pub(super) digest: String,
    pub(super) replicas: u32,
}

impl Running {
    /// The image as the chart names it in the pod spec.
    pub(super) fn image(&self) -> String {
        format!("{}@{}", self.repository, self.digest)
    }
}

/// What runs in one namespace.
pub(super) struct Live {
    pub(super) synced: Running,
    /// Whether `synced` is a failing build, whose rollout never completes.
    pub(super) failing: bool,
    /// While `synced`'s rollout fails: the build that still serves, if one ever did.
    pub(super) stable: Option<Running>,
}

impl Live {
    /// The build that answers on the pod proxy.
    pub(super) fn serving(&self) -> &Running {
        self.stable.as_ref().unwrap_or(&self.synced)
    }
}

pub(super) fn build(values: &str) -> Option<Running> {
    let doc = Document::parse("values.yaml", values.to_owned()).expect("values");
    let get = |key: &str| doc.get(key).unwrap_or_default().to_owned();
    let tag = get("image.tag");
    if tag.is_empty() {
        return None;
    }
    Some(Running {
        repository: get("image.repository"),
        tag,
        digest: get("image.digest"),
        replicas: get("replicaCount").parse().unwrap_or(1),
    })
}

pub(super) fn tip(remote: &Path) -> String {
    let repo = git2::Repository::open_bare(remote).expect("remote");
    repo.refname_to_id("refs/heads/main")
        .expect("main")
        .to_string()
}

pub(super) fn read(remote: &Path, revision: &str, path: &str) -> Option<String> {
    let repo = git2::Repository::open_bare(remote).ok()?;
    let commit = repo.find_commit(git2::Oid::from_str(revision).ok()?).ok()?;
    let entry = commit.tree().ok()?.get_path(Path::new(path)).ok()?;
    let blob = repo.find_blob(entry.id()).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

pub(super) fn deployment(namespace: &str, live: &Live) -> Value {
    let want = live.synced.replicas;
    let (updated, ready, progressing) = if live.failing {
        (
            1,
            live.stable.as_ref().map_or(0, |s| s.replicas),
            json!({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                "message": "ReplicaSet \"paktech-app\" has timed out progressing."}),
        )
    } else {
        (
            want,
            want,
            json!({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}),
        )
    };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "paktech-app",
            "namespace": namespace,
            "generation": 2,
            "annotations": {
                "argocd.argoproj.io/tracking-id": format!("paktech-app-{}:apps/Deployment:{namespace}/paktech-app",
                    namespace.trim_start_matches("paktech-")),
            },
        },
        "spec": {
            "replicas": want,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "paktech-app", "app.kubernetes.io/instance": "paktech-app"}},
            "template": {},
        },
        "status": {
            "observedGeneration": 2,
            "replicas": ready + u32::from(live.failing),
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [progressing],
        },
    })
}

pub(super) fn pods(namespace: &str, live: &Live) -> Vec<Value> {
    let pod = |running: &Running, name: String, ready: bool| {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "paktech-app", "app.kubernetes.io/instance": "paktech-app",
                    "app.kubernetes.io/version": running.tag},
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{
                    "name": "paktech-app", "ready": ready, "restartCount": if ready { 0 } else { 5 },
                    "image": format!("{}:{}", running.repository, running.tag),
                    "imageID": running.image(),
                }],
            },
        })
    };
    let hash = |running: &Running| running.tag.get(..10).unwrap_or("0000000000").to_owned();
    if !live.failing {
        return (0..live.synced.replicas)
            .map(|i| {
                pod(
                    &live.synced,
                    format!("paktech-app-{}-{i}", hash(&live.synced)),
                    true,
                )
            })
            .collect();
    }
    let serving = live.stable.iter().flat_map(|stable| {
        (0..stable.replicas).map(|i| pod(stable, format!("paktech-app-{}-{i}", hash(stable)), true))
    });
    serving
        .chain([pod(
            &live.synced,
            format!("paktech-app-{}-crash", hash(&live.synced)),
            false,
        )])
        .collect()
}

impl FakeCluster {
    /// The Application `name` of `env` as Argo CD 3.x writes it.
    pub(super) fn application(&self, name: &str, env: &str, app: &AppState, tip: &str) -> Value {
        let namespace = self.namespaces.get(env).cloned().unwrap_or_default();
        let compared = app.compared.clone().unwrap_or_else(|| tip.to_owned());
        let values_at = |revision: &str| self.env_values(env, revision);
        // Synced when what the compared revision renders is what was last synced: a commit
        // to another environment's file changes nothing here.
        let in_sync = app
            .synced
            .as_deref()
            .is_some_and(|synced| values_at(synced) == values_at(&compared));
        let live = self.live_of(env, app);
        let health = match &live {
            None => "Missing",
            Some(live) if live.failing => "Degraded",
            Some(_) => "Healthy",
        };
        let images: Vec<String> = live
            .as_ref()
            .map(|live| {
                let mut images: Vec<String> = live
                    .stable
                    .iter()
                    .chain([&live.synced])
                    .map(Running::image)
                    .collect();
                images.sort();
                images.dedup();
                images
            })
            .unwrap_or_default();
        let sources = sources(env);
        let mut status = json!({
            "controllerNamespace": "argocd",
            "health": {"status": health, "lastTransitionTime": "2026-11-26T12:00:00Z"},
            "resourceHealthSource": "appTree",
            "sourceTypes": ["Helm", ""],
            "summary": {"images": images},
            "sync": {
                "comparedTo": {
                    "destination": {"namespace": namespace, "server": "https://kubernetes.default.svc"},
                    "source": {"repoURL": ""},
                    "sources": sources,
                },
                "status": if in_sync { "Synced" } else { "OutOfSync" },
                "revisions": [CHART_REVISION, compared],
            },
        });
        if let Some(operation) = &app.operation {
            status["operationState"] = operation.clone();
        }
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "resourceVersion": (1000 + app.version).to_string(),
                "labels": {"app.kubernetes.io/name": "paktech-app", "paktech.dev/environment": env},
            },
            "spec": {
                "destination": {"namespace": namespace, "server": "https://kubernetes.default.svc"},
                "project": "paktech",
                "sources": sources,
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
            },
            "status": status,
        })
    }
}
