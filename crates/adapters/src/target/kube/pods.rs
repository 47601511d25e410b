//! Reading Deployments and Pods: which pods belong to a rollout, whether they are ready, and
//! which image they really run (the container status `imageID`, resolved by the kubelet; the
//! spec's `image` is only what was asked for). Pure: no API calls here.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use crate::target::Replica;

/// The label the chart sets to the image tag (the build).
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";

/// The Deployment's pod selector as a label selector string (`k=v,k=v`), or `None` when it
/// selects by expressions only, which the chart never does.
pub fn selector(deployment: &Deployment) -> Option<String> {
    let labels = deployment
        .spec
        .as_ref()?
        .selector
        .match_labels
        .as_ref()
        .filter(|l| !l.is_empty())?;
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// What a Deployment's own status says about its rollout, when it is not complete.
pub fn rollout_incomplete(deployment: &Deployment) -> Option<String> {
    let want = deployment.spec.as_ref()?.replicas.unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let generation = deployment.metadata.generation.unwrap_or_default();
    if status.observed_generation.unwrap_or_default() < generation {
        return Some(format!(
            "the controller has not observed generation {generation} yet"
        ));
    }
    let updated = status.updated_replicas.unwrap_or_default();
    let available = status.available_replicas.unwrap_or_default();
    let total = status.replicas.unwrap_or_default();
    if updated < want || available < want || total > updated {
        return Some(format!(
            "{updated} of {want} replicas updated, {available} available, {total} in all"
        ));
    }
    None
}

/// Why a Deployment's rollout is stuck or unfinished, for an error: its own count of updated
/// and available replicas and, when the controller gave up, its `Progressing` condition's
/// message. Argo CD 3.x writes no application-level health message, so this is where a
/// timeout or a Degraded verdict gets its reason.
pub fn rollout_state(deployment: &Deployment) -> Option<String> {
    let stalled = deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Progressing" && c.status == "False")
        .map(|c| {
            let reason = c.reason.as_deref().unwrap_or("not progressing");
            match c.message.as_deref() {
                Some(message) if !message.is_empty() => format!("{reason}: {message}"),
                _ => reason.to_owned(),
            }
        });
    match (rollout_incomplete(deployment), stalled) {
        (None, None) => None,
        (Some(counts), None) => Some(counts),
        (None, Some(stalled)) => Some(stalled),
        (Some(counts), Some(stalled)) => Some(format!("{counts} ({stalled})")),
    }
}

/// The Deployment controller gave up on the rollout: its `Progressing` condition is `False`
/// with reason `ProgressDeadlineExceeded` (Kubernetes, "Deployments", "Failed Deployment").
pub fn past_progress_deadline(deployment: &Deployment) -> bool {
    deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "Progressing"
                && c.status == "False"
                && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        })
}

/// The first of `pods` whose `container` the kubelet holds in `CrashLoopBackOff` (it started,
/// exited, and is being restarted with a growing back-off), as `pod (reason: message)`.
pub fn crash_looping(pods: &[Pod], container: &str) -> Option<String> {
    pods.iter().find_map(|pod| {
        let waiting = pod
            .status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .iter()
            .find(|c| c.name == container)?
            .state
            .as_ref()?
            .waiting
            .as_ref()
            .filter(|w| w.reason.as_deref() == Some("CrashLoopBackOff"))?;
        Some(match waiting.message.as_deref() {
            Some(message) if !message.is_empty() => {
                format!("{} (CrashLoopBackOff: {message})", name(pod))
            }
            _ => format!("{} (CrashLoopBackOff)", name(pod)),
        })
    })
}

/// A pod that is, or is about to be, part of the Deployment: not being deleted and not
/// finished.
pub fn is_live(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// The pod's containers were started (phase `Running`): not waiting to be scheduled or for
/// its image.
pub fn is_started(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

pub fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// The pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The `imageID` the kubelet reports for `container`, when it has started.
pub fn image_id<'a>(pod: &'a Pod, container: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == container)
        .map(|c| c.image_id.as_str())
        .filter(|id| !id.is_empty())
}

/// Whether an `imageID` (`registry/repo@sha256:…`, or a bare `sha256:…`) is `digest`.
pub fn is_digest(image_id: &str, digest: &str) -> bool {
    image_id == digest
        || image_id
            .rsplit_once('@')
            .is_some_and(|(_, found)| found == digest)
}

/// The build a pod was started from: the chart's version label, the image tag.
pub fn build(pod: &Pod) -> String {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(VERSION_LABEL))
        .cloned()
        .unwrap_or_default()
}

/// One pod as a [`Replica`]: `revision` is the GitOps revision Argo CD synced.
pub fn replica(pod: &Pod, container: &str, revision: &str, url: String) -> Replica {
    let status = pod.status.clone().unwrap_or_default();
    let restarts = status
        .container_statuses
        .iter()
        .flatten()
        .filter(|c| c.name == container)
        .map(|c| i64::from(c.restart_count))
        .sum();
    Replica {
        name: name(pod),
        tag: build(pod),
        revision: revision.to_owned(),
        running: status.phase.as_deref() == Some("Running") && is_ready(pod),
        restarts,
        url: Some(url),
        spec_matches: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIGEST: &str = "sha256:8f2d6c2b5e2f4a1e9c3b7d0a6e5f4c3b2a1908f7e6d5c4b3a29181706f5e4d3c";

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).expect("pod")
    }

    #[test]
    fn image_ids_match_by_digest_whatever_the_registry_prefix() {
        assert!(is_digest(
            &format!("docker.io/library/paktech-app@{DIGEST}"),
            DIGEST
        ));
        assert!(is_digest(
            &format!("paktech.azurecr.io/paktech-app@{DIGEST}"),
            DIGEST
        ));
        assert!(is_digest(DIGEST, DIGEST));
        assert!(!is_digest(
            "paktech.azurecr.io/paktech-app@sha256:0000",
            DIGEST
        ));
        assert!(!is_digest("", DIGEST));
    }

    #[test]
    fn terminating_and_finished_pods_are_not_live() {
        let running = pod(json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}}));
        let going = pod(
            json!({"metadata": {"name": "b", "deletionTimestamp": "2026-11-26T21:00:00Z"}, "status": {"phase": "Running"}}),
        );
        let done = pod(json!({"metadata": {"name": "c"}, "status": {"phase": "Succeeded"}}));
        assert!(is_live(&running));
        assert!(!is_live(&going));
        assert!(!is_live(&done));
    }

    #[test]
    fn a_deployment_mid_rollout_says_how_far_it_got() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "paktech-app", "generation": 4},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": "paktech-app", "app.kubernetes.io/instance": "paktech-app"}}, "template": {}},
            "status": {"observedGeneration": 4, "replicas": 4, "updatedReplicas": 2, "availableReplicas": 3}
        }))
        .expect("deployment");
        assert_eq!(
            rollout_incomplete(&d).as_deref(),
            Some("2 of 3 replicas updated, 3 available, 4 in all")
        );
        assert_eq!(
            selector(&d).as_deref(),
            Some("app.kubernetes.io/instance=paktech-app,app.kubernetes.io/name=paktech-app")
        );
    }
}
