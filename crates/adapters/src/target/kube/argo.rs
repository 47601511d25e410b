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
mod tests {
    use super::*;

    const REV: &str = "1111111111111111111111111111111111111111";
    const OLD: &str = "2222222222222222222222222222222222222222";
    const CHART: &str = "3333333333333333333333333333333333333333";

    fn status(sync: &str, revision: &str, health: &str) -> ApplicationStatus {
        ApplicationStatus::of(&json!({"status": {
            "sync": {"status": sync, "revisions": [CHART, revision]},
            "health": {"status": health, "message": "from the test"},
        }}))
        .expect("status")
    }

    #[test]
    fn done_only_when_synced_to_the_revision_and_healthy() {
        assert_eq!(
            status("Synced", REV, "Healthy").verdict(REV, ""),
            Verdict::Done
        );
        assert_eq!(
            status("Synced", OLD, "Healthy").verdict(REV, ""),
            Verdict::Waiting
        );
        assert_eq!(
            status("OutOfSync", REV, "Healthy").verdict(REV, ""),
            Verdict::Waiting
        );
        assert_eq!(
            status("Synced", REV, "Progressing").verdict(REV, ""),
            Verdict::Waiting
        );
    }

    #[test]
    fn a_later_revision_with_the_pinned_image_live_is_done() {
        let image = "localhost:5001/paktech-app@sha256:aaaa";
        let mut later = status(
            "Synced",
            "5555555555555555555555555555555555555555",
            "Healthy",
        );
        later.summary.images = vec![image.to_owned()];
        assert_eq!(later.verdict(REV, image), Verdict::Done);
        // The same later revision with the old image live is not.
        later.summary.images = vec!["localhost:5001/paktech-app@sha256:bbbb".to_owned()];
        assert_eq!(later.verdict(REV, image), Verdict::Waiting);
    }

    #[test]
    fn degraded_at_the_revision_is_for_the_workload_to_judge_and_an_old_one_waits() {
        assert_eq!(
            status("Synced", REV, "Degraded").verdict(REV, ""),
            Verdict::Degraded("health Degraded (from the test)".to_owned())
        );
        assert_eq!(
            status("Synced", OLD, "Degraded").verdict(REV, ""),
            Verdict::Waiting
        );
    }

    #[test]
    fn a_failed_sync_operation_for_the_revision_fails() {
        let s = ApplicationStatus::of(&json!({"status": {
            "sync": {"status": "OutOfSync", "revision": REV},
            "health": {"status": "Healthy"},
            "operationState": {"phase": "Failed", "message": "one or more objects failed to apply",
                "syncResult": {"revision": REV}},
        }}))
        .expect("status");
        assert_eq!(
            s.verdict(REV, ""),
            Verdict::Failed("sync Failed (one or more objects failed to apply)".to_owned())
        );
    }

    /// One status as Argo CD 3.x writes it for our two-source Application: `sync` at the
    /// values revision `values`, `health` without a message, the images of the live pods.
    fn v3(sync: &str, values: &str, health: &str, images: &[&str]) -> ApplicationStatus {
        ApplicationStatus::of(&json!({"status": {
            "sync": {"status": sync, "revisions": [CHART, values]},
            "health": {"status": health},
            "summary": {"images": images},
        }}))
        .expect("status")
    }

    fn check(status: ApplicationStatus, expected: Verdict) {
        assert_eq!(status.verdict(REV, GOOD), expected, "{status}");
    }

    const GOOD: &str = "localhost:5001/paktech-app@sha256:aaaa";
    const BAD: &str = "localhost:5001/paktech-app@sha256:bbbb";
    const LATER: &str = "5555555555555555555555555555555555555555";

    #[test]
    fn failure_is_final_only_when_synced_at_the_pushed_revision() {
        let failed = || Verdict::Degraded("health Degraded".to_owned());
        // A rollback to GOOD at REV starts from the bad rollout: Degraded at OLD, with the
        // previous ReplicaSet's pods still running GOOD. That is not the rollback failing.
        check(
            v3("Synced", OLD, "Degraded", &[GOOD, BAD]),
            Verdict::Waiting,
        );
        // Argo CD compared REV but has not synced it: the health is still the old rollout's.
        check(
            v3("OutOfSync", REV, "Degraded", &[GOOD, BAD]),
            Verdict::Waiting,
        );
        // Synced at REV and Degraded: the rollout of REV failed.
        check(v3("Synced", REV, "Degraded", &[GOOD, BAD]), failed());
        // The pinned image live counts only when Synced.
        check(v3("OutOfSync", LATER, "Healthy", &[GOOD]), Verdict::Waiting);
        check(
            v3("OutOfSync", LATER, "Degraded", &[GOOD, BAD]),
            Verdict::Waiting,
        );
        check(v3("Synced", LATER, "Healthy", &[GOOD]), Verdict::Done);
        check(v3("Synced", REV, "Healthy", &[GOOD]), Verdict::Done);
    }

    #[test]
    fn a_failed_operation_counts_only_when_it_names_the_pushed_revision() {
        let with_operation = |operation: Value| {
            let mut status = v3("OutOfSync", REV, "Healthy", &[GOOD]);
            status.operation_state = Some(OperationState::deserialize(operation).expect("op"));
            status
        };
        // The bad rollout's failed sync, read while the rollback's revision is compared.
        check(
            with_operation(
                json!({"phase": "Failed", "message": "one or more objects failed to apply",
                "syncResult": {"revision": "", "revisions": [CHART, OLD]}}),
            ),
            Verdict::Waiting,
        );
        // An operation that failed before Argo CD resolved any revision says nothing.
        check(
            with_operation(json!({"phase": "Error", "message": "rpc error"})),
            Verdict::Waiting,
        );
        // An automated sync names its revisions in the operation before any result exists.
        check(
            with_operation(json!({"phase": "Error", "message": "rpc error",
                "operation": {"sync": {"revisions": [CHART, REV]}}})),
            Verdict::Failed("sync Error (rpc error)".to_owned()),
        );
        check(
            with_operation(
                json!({"phase": "Failed", "message": "one or more objects failed to apply",
                "syncResult": {"revision": "", "revisions": [CHART, REV]}}),
            ),
            Verdict::Failed("sync Failed (one or more objects failed to apply)".to_owned()),
        );
    }

    #[test]
    fn a_missing_status_is_empty_and_reads_as_unknown() {
        let s = ApplicationStatus::of(&json!({"metadata": {"name": "x"}})).expect("status");
        assert_eq!(s.verdict(REV, ""), Verdict::Waiting);
        assert_eq!(s.to_string(), "sync Unknown, health Unknown");
    }

    #[test]
    fn the_one_line_summary_names_revisions_health_and_conditions() {
        let s = ApplicationStatus::of(&json!({"status": {
            "sync": {"status": "OutOfSync", "revisions": [CHART, OLD]},
            "health": {"status": "Progressing", "message": "Waiting for rollout to finish"},
            "conditions": [{"type": "SyncError", "message": "deny window active"}],
        }}))
        .expect("status");
        assert_eq!(
            s.to_string(),
            "sync OutOfSync at 3333333+2222222, health Progressing (Waiting for rollout to finish), SyncError: deny window active"
        );
    }
}
