//! A `Degraded` Application at the pushed revision is not a failed rollout by itself. Argo CD
//! rolls every resource's health up into the Application's, and a brand-new
//! HorizontalPodAutoscaler is `Degraded` until the metrics API has data for its pods
//! (`ScalingActive` `False` with reason `FailedGetResourceMetric`: `isDegraded` in
//! `gitops-engine/pkg/health/health_hpa.go`, argoproj/argo-cd master of 2026-08, the
//! gitops-engine Argo CD 3.x vendors). So the first staging or prod rollout with autoscaling
//! reads `Degraded` for a while. The kube target fails it only with a failed sync operation,
//! the Deployment past its progress deadline, or a crash-looping pod, and otherwise waits.
//!
//! Fixtures: `application-new-hpa.json` is staging's Application as Argo CD 3.x writes it
//! right after that first sync (health `Degraded` with no message, resource health kept in
//! the app tree, the HPA among the resources), `hpa-new.json` the HPA the API server serves
//! then (the conditions of the upstream `hpa-v2-degraded.yaml` kind).

mod kube_mock;

use std::time::Duration;

use adapters::target::SyncMode;
use kube_mock::*;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The new-HPA Application, served on dev's paths (the mock cluster's).
fn new_hpa_application() -> Value {
    let mut app = fixture("application-new-hpa");
    app["metadata"]["name"] = json!("paktech-app-dev");
    app["metadata"]["namespace"] = json!("paktech-dev");
    app
}

fn crash_looping(name: &str) -> Value {
    let mut pod = pod(name, DIGEST);
    let status = &mut pod["status"]["containerStatuses"][0];
    status["ready"] = json!(false);
    status["restartCount"] = json!(4);
    status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
        "message": "back-off 1m20s restarting failed container=paktech-app"}});
    status["lastState"] = json!({"terminated": {"exitCode": 101, "reason": "Error"}});
    pod
}

#[test]
fn the_fixtures_are_a_new_hpa_as_argo_cd_3_reports_it() {
    let app = fixture("application-new-hpa");
    let status = &app["status"];
    assert_eq!(status["health"]["status"], "Degraded");
    assert!(status["health"].get("message").is_none(), "3.x writes none");
    assert_eq!(status["sync"]["status"], "Synced");
    assert_eq!(status["sync"]["revisions"][1], REV);
    assert_eq!(status["resourceHealthSource"], "appTree");
    let resources = status["resources"].as_array().expect("resources");
    assert!(resources.iter().all(|r| r.get("health").is_none()));
    assert!(
        resources
            .iter()
            .any(|r| r["kind"] == "HorizontalPodAutoscaler")
    );
    // Why it is Degraded: the HPA's conditions are those health_hpa.go calls degraded.
    let hpa = fixture("hpa-new");
    let conditions = hpa["status"]["conditions"].as_array().expect("conditions");
    assert!(conditions.iter().any(|c| c["type"] == "ScalingActive"
        && c["status"] == "False"
        && c["reason"] == "FailedGetResourceMetric"));
}

#[tokio::test(start_paused = true)]
async fn a_new_hpa_without_metrics_waits_and_the_rollout_completes() {
    let mut cluster = Cluster::new(
        vec![
            application("Synced", OLD, "Healthy"),
            new_hpa_application(),
            application("Synced", REV, "Healthy"),
        ],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    cluster.pods_before = vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)];
    let (result, seen) = converge(cluster, Duration::from_secs(60), SyncMode::Automatic).await;
    result.expect("Degraded by a new HPA alone is not a failure");
    // It looked at the Deployment when it read Degraded.
    assert!(seen.iter().any(|s| s.path == DEPLOYMENT), "{seen:#?}");
}

#[tokio::test(start_paused = true)]
async fn degraded_with_a_healthy_workload_times_out_rather_than_failing_at_once() {
    let mut cluster = Cluster::new(
        vec![application("Synced", OLD, "Healthy"), new_hpa_application()],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    cluster.deployment = deployment_mid_rollout(1, false);
    let started = Instant::now();
    let (result, _) = converge(cluster, Duration::from_millis(400), SyncMode::Automatic).await;
    assert!(started.elapsed() >= Duration::from_millis(400), "waited");
    let error = result.expect_err("never healthy").to_string();
    assert!(error.contains("was not synced to"), "{error}");
    assert!(error.contains("health Degraded"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn degraded_with_a_crash_looping_pod_fails_at_once_naming_it() {
    let cluster = Cluster::new(
        vec![application("Synced", OLD, "Healthy"), new_hpa_application()],
        vec![crash_looping("paktech-app-6d9f7c8b5d-x7k2p")],
    );
    let started = Instant::now();
    let (result, _) = converge(cluster, Duration::from_secs(60), SyncMode::Automatic).await;
    assert!(started.elapsed() < Duration::from_secs(1), "failed at once");
    let error = result.expect_err("crash-looping").to_string();
    assert!(
        error.contains(&format!("failed to roll out {REV}: health Degraded, and pod paktech-app-6d9f7c8b5d-x7k2p (CrashLoopBackOff: back-off 1m20s restarting failed container=paktech-app) is crash-looping")),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn degraded_past_the_progress_deadline_fails_at_once() {
    let mut cluster = Cluster::new(
        vec![application("Synced", OLD, "Healthy"), new_hpa_application()],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    cluster.deployment = deployment_mid_rollout(1, true);
    let (result, _) = converge(cluster, Duration::from_secs(60), SyncMode::Automatic).await;
    let error = result.expect_err("past its deadline").to_string();
    assert!(
        error.contains(
            "health Degraded, and deployment paktech-dev/paktech-app is past its progress deadline"
        ),
        "{error}"
    );
}
