//! Argo CD Applications as the kube target reads them (sync and health status) and the two
//! requests it makes of them: refresh, and an explicit sync. Pure: no API calls here.

use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};

/// The API group, version and plural of Argo CD's Application resource.
pub const GROUP: &str = "argoproj.io";
pub const VERSION: &str = "v1alpha1";
pub const KIND: &str = "Application";
pub const PLURAL: &str = "applications";

/// The Application of `app` in `env`, as the bootstrap ApplicationSet names it; defined once
/// in the configuration, where sync windows find it too.
pub use config::application_name;

/// Who the pipeline's explicit syncs are recorded as in Argo CD's history.
pub const INITIATOR: &str = "paktech-pipeline";

/// The parts of `Application.status` the pipeline decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApplicationStatus {
    pub sync: SyncStatus,
    pub health: HealthStatus,
    pub operation_state: Option<OperationState>,
    pub conditions: Vec<Condition>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// The images of the live resources, as their specs name them (`repo@sha256:…`).
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub status: String,
    /// The revision of a single-source application.
    pub revision: Option<String>,
    /// One revision per source of a multi-source application (ours: chart, values).
    pub revisions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct HealthStatus {
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    pub status: String,
    /// Written by Argo CD 2.x only: 3.x deprecated the application-level message and leaves
    /// it empty (`AppHealthStatus` in `pkg/apis/application/v1alpha1/types.go`, v3.2.0).
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OperationState {
    /// `Running`, `Succeeded`, `Failed`, `Error` or `Terminating`.
    pub phase: String,
    pub message: Option<String>,
    /// The operation as requested (`operation.sync.revisions` for an automated sync).
    pub operation: Option<Operation>,
    pub sync_result: Option<SyncStatusRevisions>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Operation {
    pub sync: Option<SyncStatusRevisions>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SyncStatusRevisions {
    pub revision: Option<String>,
    pub revisions: Vec<String>,
}

impl SyncStatusRevisions {
    fn names(&self, revision: &str) -> bool {
        self.revision.as_deref() == Some(revision) || self.revisions.iter().any(|r| r == revision)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// What an Application's status says about a rollout of one GitOps revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Synced to the revision and Healthy.
    Done,
    /// Not there yet.
    Waiting,
    /// Synced to the revision and `Degraded`: failed only when the workload says so (see
    /// [`ApplicationStatus::verdict`]); the caller looks at the Deployment and its pods.
    Degraded(String),
    /// The rollout of the revision failed; waiting longer will not help.
    Failed(String),
}

impl ApplicationStatus {
    /// Reads the status out of an Application object (JSON); an object without one (just
    /// created, never reconciled) has the empty status.
    pub fn of(application: &Value) -> Result<Self, serde_json::Error> {
        match application.get("status") {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(status) => Self::deserialize(status),
        }
    }

    /// Whether Argo CD compared against (or synced) `revision` of the GitOps repository.
    pub fn at_revision(&self, revision: &str) -> bool {
        SyncStatusRevisions {
            revision: self.sync.revision.clone(),
            revisions: self.sync.revisions.clone(),
        }
        .names(revision)
    }

    /// Whether `image` (as the chart names it) is among the images of the Application's
    /// live pods (`status.summary.images`). Argo CD collects them from every pod of the
    /// resource tree (`ApplicationTree.GetSummary`, `controller/cache/info.go` in v3.2.0), so
    /// during a failed rollout the previous ReplicaSet's image is listed too: alone it proves
    /// nothing about what the Deployment asks for.
    pub fn image_live(&self, image: &str) -> bool {
        !image.is_empty() && self.summary.images.iter().any(|i| i == image)
    }

    /// Whether the last sync operation failed for `revision`: its `syncResult` (or, before
    /// Argo CD resolved one, the operation itself) names it. A failed operation that names
    /// no revision, or another one, is an earlier rollout's.
    fn operation_failed_at(&self, revision: &str) -> Option<&OperationState> {
        self.operation_state.as_ref().filter(|op| {
            matches!(op.phase.as_str(), "Failed" | "Error")
                && (op.sync_result.as_ref().is_some_and(|r| r.names(revision))
                    || op
                        .operation
                        .as_ref()
                        .and_then(|o| o.sync.as_ref())
                        .is_some_and(|s| s.names(revision)))
        })
    }

    /// What this status says about the rollout of `image` (as the chart names it) pushed
    /// at `revision`.
    ///
    /// `status.sync.revisions` names what Argo CD last *compared*; `health` describes the live
    /// objects. Only when the status is `Synced` are the live objects the ones the compared
    /// revision describes, so:
    /// - done: `Synced` and `Healthy`, at the pushed revision or, because a commit to another
    ///   environment's values file moves every Application's revision, at any revision with
    ///   the pinned image live;
    /// - failed: a failed sync operation for the pushed revision;
    /// - degraded, which is not final by itself: `Synced` at the pushed revision and
    ///   `Degraded`. Argo CD rolls every resource's health up into the Application's, and a
    ///   brand-new HorizontalPodAutoscaler is `Degraded` until the metrics API has data for its
    ///   pods (`ScalingActive` `FailedGetResourceMetric`, `isDegraded` in gitops-engine's
    ///   `pkg/health/health_hpa.go`, vendored by Argo CD 3.x), so the first rollout with an HPA
    ///   reads `Degraded` for a while. The kube target fails it only when the Deployment is past
    ///   its progress deadline or a pod is crash-looping;
    /// - anything else waits: a `Degraded` health at an older revision, or `OutOfSync` at the
    ///   pushed one, is the previous rollout's state (a rollback starts from exactly that).
    pub fn verdict(&self, revision: &str, image: &str) -> Verdict {
        let synced = self.sync.status == "Synced";
        let at_revision = self.at_revision(revision);
        if synced && self.health.status == "Healthy" && (at_revision || self.image_live(image)) {
            return Verdict::Done;
        }
        if let Some(op) = self.operation_failed_at(revision) {
            return Verdict::Failed(format!("sync {}{}", op.phase, suffix(&op.message)));
        }
        if synced && at_revision && self.health.status == "Degraded" {
            return Verdict::Degraded(format!("health Degraded{}", suffix(&self.health.message)));
        }
        Verdict::Waiting
    }
}

fn suffix(message: &Option<String>) -> String {
    match message.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => format!(" ({m})"),
        _ => String::new(),
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "Unknown" } else { s }
}

impl fmt::Display for ApplicationStatus {
    /// One line for progress and errors: `sync OutOfSync at 1a2b3c4, health Progressing
    /// (waiting for rollout), operation Running`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sync {}", or_unknown(&self.sync.status))?;
        let revisions: Vec<&str> = self
            .sync
            .revision
            .iter()
            .chain(&self.sync.revisions)
            .map(|r| r.get(..7).unwrap_or(r))
            .collect();
        if !revisions.is_empty() {
            write!(f, " at {}", revisions.join("+"))?;
        }
        write!(
            f,
            ", health {}{}",
            or_unknown(&self.health.status),
            suffix(&self.health.message)
        )?;
        if let Some(op) = &self.operation_state {
            write!(
                f,
                ", operation {}{}",
                or_unknown(&op.phase),
                suffix(&op.message)
            )?;
        }
        for condition in &self.conditions {
            write!(f, ", {}: {}", condition.kind, condition.message.trim())?;
        }
        Ok(())
    }
}

/// The merge patch that makes Argo CD re-read the repositories now instead of at its next
/// poll (the annotation `argocd app get --refresh` sets).
pub fn refresh_patch() -> Value {
    json!({"metadata": {"annotations": {"argocd.argoproj.io/refresh": "normal"}}})
}

/// The merge patch that starts a sync of every source at its target revision, as
/// `argocd app sync` does. Argo CD runs it even inside a deny window with `manualSync: true`.
pub fn sync_patch() -> Value {
    json!({
        "operation": {
            "initiatedBy": {"username": INITIATOR, "automated": false},
            "sync": {
                "prune": true,
                "syncOptions": ["CreateNamespace=true", "RespectIgnoreDifferences=true"],
            },
        }
    })
}

#[cfg(test)]
mod tests;
