//! The kube target against a mock Kubernetes API server (tower-test), fed Application,
//! Deployment and Pod JSON shaped as Argo CD and the API server serve them
//! (`tests/fixtures/kube/`): synced, progressing, degraded, wrong revision, wrong digest,
//! timeout, explicit sync, a rollback starting from a Degraded rollout, and probes and
//! `/metrics` reads through the pod proxy.
//!
//! The fixtures are what Argo CD 3.x writes for our two-source Application (read from
//! argoproj/argo-cd v3.2.0): `status.sync.revisions` and `operationState.syncResult.revisions`
//! per source with an empty `syncResult.revision` (`controller/sync.go`, `controller/state.go`),
//! `sourceTypes` `["Helm", ""]` (a ref-only source generates no manifests,
//! `reposerver/repository/repository.go`), no application-level `health.message` and no
//! per-resource health (`AppHealthStatus` in `pkg/apis/application/v1alpha1/types.go`;
//! `controller/health.go` keeps resource health in the app tree unless
//! `--persist-resource-health`), and managed objects tracked by the
//! `argocd.argoproj.io/tracking-id` annotation (`util/argo/resource_tracking.go`).
//!
//! Longer than 400 lines: every scenario drives the same mock API server and fixtures
//! (`kube_mock`), and each file under `tests/` is a test binary of its own.

mod kube_mock;

use std::collections::BTreeMap;
use std::time::Duration;

use adapters::target::SyncMode;
use kube_mock::*;
use model::report::Silent;
use serde_json::{Value, json};
use tokio::time::Instant;

#[tokio::test]
async fn synced_and_healthy_at_the_pushed_revision_with_the_pinned_digest_is_done() {
    let mut cluster = Cluster::new(
        vec![
            application("Synced", OLD, "Healthy"),
            application("OutOfSync", REV, "Healthy"),
            application("Synced", REV, "Progressing"),
            application("Synced", REV, "Healthy"),
        ],
        vec![
            pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST),
            pod("paktech-app-6d9f7c8b5d-q9w4z", DIGEST),
        ],
    );
    cluster.pods_before = vec![pod("paktech-app-5b8e6a7c4d-old01", OTHER_DIGEST)];
    let (result, seen) = converge(cluster, Duration::from_secs(30), SyncMode::Automatic).await;
    let done = result.expect("converged");
    assert_eq!(
        done.started,
        vec![
            "paktech-app-6d9f7c8b5d-q9w4z".to_owned(),
            "paktech-app-6d9f7c8b5d-x7k2p".to_owned()
        ]
    );
    assert_eq!(
        done.removed,
        vec!["paktech-app-5b8e6a7c4d-old01".to_owned()]
    );
    // Argo CD was asked to refresh, not to sync: automated sync does the rest.
    let patches = patches(&seen);
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert_eq!(
        patches[0]["metadata"]["annotations"]["argocd.argoproj.io/refresh"],
        "normal"
    );
    assert!(patches[0].get("operation").is_none());
    // It watched rather than polled: one watch delivered every state.
    let watches = seen
        .iter()
        .filter(|s| s.query.contains("watch=true"))
        .count();
    assert_eq!(watches, 1, "{seen:#?}");
}

// Paused time: the clock moves only when every task waits, so the timeout is what ends the
// wait, measured in the runtime's own time rather than asserted against the wall clock.
#[tokio::test(start_paused = true)]
async fn still_progressing_times_out_naming_the_last_state_it_saw() {
    let mut cluster = Cluster::new(
        vec![
            application("OutOfSync", REV, "Healthy"),
            application("Synced", REV, "Progressing"),
        ],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    cluster.deployment = deployment_mid_rollout(1, false);
    let started = Instant::now();
    let (result, _) = converge(cluster, Duration::from_millis(400), SyncMode::Automatic).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_millis(500),
        "bounded by the timeout: {waited:?}"
    );
    let error = result.expect_err("times out").to_string();
    assert!(error.contains("paktech-app-dev was not synced to 4444444444444444444444444444444444444444 and healthy within 0s"), "{error}");
    // Argo CD 3.x says only "Progressing"; the Deployment says how far it got.
    assert!(
        error.contains("last observed: sync Synced at 9d1c0ab+4444444, health Progressing"),
        "{error}"
    );
    assert!(
        error.ends_with(
            "; deployment paktech-dev/paktech-app: 1 of 2 replicas updated, 2 available, 3 in all"
        ),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn degraded_at_the_pushed_revision_fails_at_once() {
    let mut cluster = Cluster::new(
        vec![
            application("Synced", OLD, "Healthy"),
            application("Synced", REV, "Degraded"),
        ],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    cluster.deployment = deployment_mid_rollout(1, true);
    let started = Instant::now();
    let (result, _) = converge(cluster, Duration::from_secs(60), SyncMode::Automatic).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "failed without waiting out the timeout: {:?}",
        started.elapsed()
    );
    let error = result.expect_err("degraded").to_string();
    assert!(
        error.contains("failed to roll out 4444444444444444444444444444444444444444: health Degraded, and deployment paktech-dev/paktech-app is past its progress deadline; last observed: sync Synced at 9d1c0ab+4444444, health Degraded"),
        "{error}"
    );
    assert!(
        error.ends_with("; deployment paktech-dev/paktech-app: 1 of 2 replicas updated, 2 available, 3 in all (ProgressDeadlineExceeded: ReplicaSet \"paktech-app-7f4c9d2e1b\" has timed out progressing.)"),
        "{error}"
    );
}

#[tokio::test]
async fn synced_and_healthy_at_another_revision_is_not_done() {
    let cluster = Cluster::new(
        vec![application("Synced", OLD, "Healthy")],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    let (result, seen) = converge(cluster, Duration::from_millis(400), SyncMode::Automatic).await;
    let error = result.expect_err("wrong revision").to_string();
    assert!(
        error.contains("last observed: sync Synced at 9d1c0ab+2222222, health Healthy"),
        "{error}"
    );
    assert_eq!(
        seen.iter().filter(|s| s.path == PODS).count(),
        1,
        "pods are listed once before the rollout, and not verified while it is not done"
    );
}

#[tokio::test]
async fn a_pod_running_another_digest_is_refused_by_name() {
    let cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![
            pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST),
            pod("paktech-app-6d9f7c8b5d-q9w4z", OTHER_DIGEST),
        ],
    );
    let (result, _) = converge(cluster, Duration::from_secs(30), SyncMode::Automatic).await;
    let error = result.expect_err("wrong digest").to_string();
    assert_eq!(
        error,
        format!(
            "pod paktech-dev/paktech-app-6d9f7c8b5d-q9w4z runs localhost:5001/paktech-app@{OTHER_DIGEST}, but dev's values pin {DIGEST}; refusing to call it deployed"
        )
    );
}

#[tokio::test]
async fn terminating_pods_of_the_old_build_do_not_count() {
    let mut leaving = pod("paktech-app-5b8e6a7c4d-old01", OTHER_DIGEST);
    leaving["metadata"]["deletionTimestamp"] = json!("2026-11-26T21:00:05Z");
    let cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST), leaving],
    );
    let (result, _) = converge(cluster, Duration::from_secs(30), SyncMode::Automatic).await;
    result.expect("the terminating pod is ignored");
}

#[tokio::test]
async fn an_explicit_sync_sets_the_operation_argo_cd_runs_even_in_a_deny_window() {
    let cluster = Cluster::new(
        vec![
            application("OutOfSync", REV, "Healthy"),
            application("Synced", REV, "Healthy"),
        ],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    let (result, seen) = converge(cluster, Duration::from_secs(30), SyncMode::Explicit).await;
    result.expect("converged");
    let patches = patches(&seen);
    assert_eq!(patches.len(), 2, "{patches:?}");
    let operation = &patches[1]["operation"];
    assert_eq!(operation["initiatedBy"]["username"], "paktech-pipeline");
    assert_eq!(operation["sync"]["prune"], true);
}

#[tokio::test]
async fn probes_go_through_the_api_servers_pod_proxy() {
    let mut cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![
            pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST),
            pod("paktech-app-6d9f7c8b5d-q9w4z", DIGEST),
        ],
    );
    let info = json!({"build_sha": BUILD, "version": "0.1.0", "environment": "dev"}).to_string();
    cluster.proxy = BTreeMap::from([
        (
            "paktech-app-6d9f7c8b5d-x7k2p/health".to_owned(),
            (200, r#"{"status":"ok"}"#.to_owned()),
        ),
        (
            "paktech-app-6d9f7c8b5d-x7k2p/info".to_owned(),
            (200, info.clone()),
        ),
        ("paktech-app-6d9f7c8b5d-q9w4z/info".to_owned(), (200, info)),
    ]);
    let (result, seen) = against(cluster, |target| async move {
        target.probe(&"dev".parse().expect("env")).await
    })
    .await;
    let probes = result.expect("probes");
    assert_eq!(probes.len(), 2);
    let (replica, good) = &probes[1];
    assert_eq!(replica.name, "paktech-app-6d9f7c8b5d-x7k2p");
    assert_eq!(replica.tag, BUILD);
    assert_eq!(replica.revision, REV);
    assert!(good.runs(BUILD), "{good:?}");
    assert_eq!(
        good.url,
        "/api/v1/namespaces/paktech-dev/pods/paktech-app-6d9f7c8b5d-x7k2p:8080/proxy"
    );
    let (_, bad) = &probes[0];
    assert!(!bad.healthy);
    assert_eq!(bad.problem.as_deref(), Some("/health answered 503"));
    assert!(seen.iter().any(|s| s.path
        == "/api/v1/namespaces/paktech-dev/pods/paktech-app-6d9f7c8b5d-q9w4z:8080/proxy/health"));
}

#[tokio::test]
async fn metrics_are_read_through_the_pod_proxy_too() {
    let mut cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![
            pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST),
            pod("paktech-app-6d9f7c8b5d-q9w4z", DIGEST),
        ],
    );
    // What the app's prometheus-client writes (trimmed); the second pod does not answer.
    let metrics = "# TYPE http_requests counter\n\
        http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 40\n\
        http_requests_total{method=\"GET\",route=\"/\",status=\"500\"} 10\n\
        # TYPE http_request_duration_seconds histogram\n\
        http_request_duration_seconds_bucket{le=\"0.01\",route=\"/\"} 45\n\
        http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/\"} 50\n\
        # EOF\n";
    cluster.proxy = BTreeMap::from([(
        "paktech-app-6d9f7c8b5d-x7k2p/metrics".to_owned(),
        (200, metrics.to_owned()),
    )]);
    let (result, seen) = against(cluster, |target| async move {
        target.metrics(&"dev".parse().expect("env")).await
    })
    .await;
    let snapshot = result.expect("metrics");
    assert_eq!(snapshot.replicas.len(), 1, "{snapshot:?}");
    let read = &snapshot.replicas[0];
    assert_eq!(read.replica, "paktech-app-6d9f7c8b5d-x7k2p");
    assert_eq!(read.build, BUILD);
    assert_eq!(read.requests.values().sum::<f64>(), 50.0);
    assert_eq!(read.latency["/"].count(), 50.0);
    assert_eq!(
        snapshot.unreadable,
        vec!["paktech-app-6d9f7c8b5d-q9w4z: /metrics answered 503".to_owned()]
    );
    // The reads went through the pod proxy (a call kube::access::ACCESS lists; the mock
    // server refuses any other).
    assert!(seen.iter().any(|s| s.path
        == "/api/v1/namespaces/paktech-dev/pods/paktech-app-6d9f7c8b5d-x7k2p:8080/proxy/metrics"));
}

#[tokio::test]
async fn a_scrape_that_does_not_parse_makes_the_pod_unreadable_not_idle() {
    let mut cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    // A 200 with something else than the text format: an error page from a proxy on the way.
    cluster.proxy = BTreeMap::from([(
        "paktech-app-6d9f7c8b5d-x7k2p/metrics".to_owned(),
        (
            200,
            "<html><body>upstream timed out</body></html>\n".to_owned(),
        ),
    )]);
    let (result, _) = against(cluster, |target| async move {
        target.metrics(&"dev".parse().expect("env")).await
    })
    .await;
    let snapshot = result.expect("metrics");
    assert!(snapshot.replicas.is_empty(), "{snapshot:?}");
    assert_eq!(snapshot.unreadable.len(), 1, "{snapshot:?}");
    assert!(
        snapshot.unreadable[0].starts_with(
            "paktech-app-6d9f7c8b5d-x7k2p: line 1 of /metrics is not in the Prometheus text format"
        ),
        "{snapshot:?}"
    );
}

#[tokio::test]
async fn synthetic_load_reaches_the_pods_through_the_pod_proxy() {
    use adapters::load::{Load, LoadPlan};
    // x7k2p answers `/` with its own 500; q9w4z is unreachable: the proxy answers for it with
    // a Status of its own (the mock's default), and the pod served nothing.
    let mut cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![
            pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST),
            pod("paktech-app-6d9f7c8b5d-q9w4z", DIGEST),
        ],
    );
    cluster.proxy = BTreeMap::from([(
        "paktech-app-6d9f7c8b5d-x7k2p/".to_owned(),
        (500, r#"{"error":"internal"}"#.to_owned()),
    )]);
    let pods = "/api/v1/namespaces/paktech-dev/pods";
    let (answering, unreachable) = (
        format!("{pods}/paktech-app-6d9f7c8b5d-x7k2p:8080/proxy"),
        format!("{pods}/paktech-app-6d9f7c8b5d-q9w4z:8080/proxy"),
    );
    let urls = vec![answering.clone(), unreachable.clone()];
    let (counts, seen) = against(cluster, |target| async move {
        let load = Load::start(
            LoadPlan {
                urls,
                rate: 20.0,
                until: Duration::from_millis(500),
            },
            target.load_sender(),
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        load.counts()
    })
    .await;
    let reached = |base: &str| seen.iter().filter(|s| s.path == format!("{base}/")).count() as u64;
    assert!(
        (2..=10).contains(&counts.sent),
        "{counts:?} for a budget of 10"
    );
    // Every request went to a pod's proxy, a call kube::access::ACCESS lists (the mock
    // server refuses any other), and nothing else was asked.
    assert_eq!(
        reached(&answering) + reached(&unreachable),
        counts.sent,
        "{seen:?}"
    );
    assert_eq!(seen.len() as u64, counts.sent, "{seen:?}");
    // The pod's own 500s are server errors (the pod counted them); the proxy's own 503s are
    // requests no pod answered.
    assert_eq!(counts.server_errors, reached(&answering), "{counts:?}");
    assert_eq!(counts.unanswered, reached(&unreachable), "{counts:?}");
}

#[tokio::test]
async fn pending_until_argo_cd_has_the_revision_synced_and_healthy() {
    for (app, pending) in [
        (application("Synced", REV, "Healthy"), false),
        (application("Synced", OLD, "Healthy"), true),
        (application("OutOfSync", REV, "Healthy"), true),
    ] {
        let cluster = Cluster::new(vec![app], Vec::new());
        let (result, _) = against(
            cluster,
            |target| async move { target.pending(&desired()).await },
        )
        .await;
        assert_eq!(result.expect("pending"), pending);
    }
}

#[tokio::test]
async fn an_unknown_environment_is_refused_before_any_request() {
    let cluster = Cluster::new(vec![application("Synced", REV, "Healthy")], Vec::new());
    let (result, seen) = against(cluster, |target| async move {
        target.probe(&"qa".parse().expect("env")).await
    })
    .await;
    let error = result.expect_err("unknown env").to_string();
    assert_eq!(
        error,
        "qa has no namespace; expected it among pipeline.toml's environments"
    );
    assert!(seen.is_empty(), "{seen:?}");
}

#[tokio::test]
async fn a_missing_application_names_the_bootstrap() {
    let cluster = Cluster::new(vec![application("Synced", REV, "Healthy")], Vec::new());
    let (result, _) = against(cluster, |target| async move {
        target.status(&"prod".parse().expect("env")).await
    })
    .await;
    let error = result.expect_err("no application").to_string();
    assert_eq!(
        error,
        "Argo CD has no application paktech-app-prod in namespace paktech-prod; apply gitops/bootstrap/ to the cluster (`cargo xtask cluster up` does on kind)"
    );
}

#[tokio::test]
async fn a_rollout_to_a_missing_application_names_the_bootstrap() {
    let cluster = Cluster::new(vec![application("Synced", REV, "Healthy")], Vec::new());
    let mut prod = desired();
    prod.env = "prod".parse().expect("env");
    let (result, _) = against(cluster, |target| async move {
        target
            .converge(&prod, Duration::from_secs(5), SyncMode::Automatic, &Silent)
            .await
    })
    .await;
    let error = result.expect_err("no application").to_string();
    assert!(
        error.starts_with("Argo CD has no application paktech-app-prod in namespace paktech-prod"),
        "{error}"
    );
}

#[tokio::test]
async fn a_later_revision_with_the_pinned_image_live_is_done() {
    // A commit to another environment's values file moves every Application's revision past
    // the one the pipeline pushed; what counts is that the pinned image is what runs.
    let mut later = application(
        "Synced",
        "5555555555555555555555555555555555555555",
        "Healthy",
    );
    later["status"]["summary"]["images"] = json!([format!("localhost:5001/paktech-app@{DIGEST}")]);
    let cluster = Cluster::new(
        vec![application("Synced", OLD, "Healthy"), later],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    let (result, _) = converge(cluster, Duration::from_secs(30), SyncMode::Automatic).await;
    result.expect("converged at the later revision");
}

#[tokio::test]
async fn a_pending_pod_is_not_probed_and_a_started_one_is_even_before_it_is_ready() {
    let mut pending = pod("paktech-app-6d9f7c8b5d-new01", DIGEST);
    pending["status"] =
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]});
    let mut starting = pod("paktech-app-6d9f7c8b5d-new02", DIGEST);
    starting["status"]["conditions"] = json!([{"type": "Ready", "status": "False"}]);
    let mut cluster = Cluster::new(
        vec![application("Synced", REV, "Healthy")],
        vec![
            pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST),
            pending,
            starting,
        ],
    );
    let info = json!({"build_sha": BUILD}).to_string();
    for name in [
        "paktech-app-6d9f7c8b5d-x7k2p",
        "paktech-app-6d9f7c8b5d-new02",
    ] {
        cluster
            .proxy
            .insert(format!("{name}/health"), (200, "{}".to_owned()));
        cluster
            .proxy
            .insert(format!("{name}/info"), (200, info.clone()));
    }
    let (result, seen) = against(cluster, |target| async move {
        target.probe(&"dev".parse().expect("env")).await
    })
    .await;
    let probes = result.expect("probes");
    let names: Vec<&str> = probes.iter().map(|(r, _)| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "paktech-app-6d9f7c8b5d-new02",
            "paktech-app-6d9f7c8b5d-x7k2p"
        ]
    );
    assert!(probes.iter().all(|(_, p)| p.runs(BUILD)), "{probes:?}");
    assert!(!probes[0].0.running, "not ready yet");
    assert!(
        !seen.iter().any(|s| s.path.contains("new01")),
        "the pending pod is left alone"
    );
}

/// The images Argo CD lists while a Deployment's rollout is stuck: the previous ReplicaSet's
/// pods keep running (maxUnavailable 0) next to the new one's.
fn images(digests: &[&str]) -> Value {
    json!(
        digests
            .iter()
            .map(|d| format!("localhost:5001/paktech-app@{d}"))
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn a_rollback_waits_out_the_previous_rollouts_degraded_state() {
    // Prod ran OTHER_DIGEST's bad rollout to Degraded at OLD; the old ReplicaSet still runs
    // DIGEST, the build the rollback at REV pins. Until Argo CD has synced REV, that Degraded
    // state is the bad rollout's, not the rollback's.
    let mut bad = application("Synced", OLD, "Degraded");
    bad["status"]["summary"]["images"] = images(&[DIGEST, OTHER_DIGEST]);
    bad["status"]["operationState"]["phase"] = json!("Failed");
    bad["status"]["operationState"]["message"] = json!("one or more objects failed to apply");
    let mut compared = application("OutOfSync", REV, "Degraded");
    compared["status"]["summary"]["images"] = images(&[DIGEST, OTHER_DIGEST]);
    compared["status"]["operationState"] = bad["status"]["operationState"].clone();
    let cluster = Cluster::new(
        vec![
            bad,
            compared,
            application("Synced", REV, "Progressing"),
            application("Synced", REV, "Healthy"),
        ],
        vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
    );
    let (result, _) = converge(cluster, Duration::from_secs(30), SyncMode::Explicit).await;
    result.expect("the rollback waited for its own revision and converged");
}

#[tokio::test]
async fn the_pinned_image_live_does_not_count_while_out_of_sync() {
    // A later revision compared but not synced, with the pinned image among the live ones:
    // the live objects are not yet what git says, so this is neither done nor, Degraded,
    // failed (the Degraded state is whatever ran before).
    for health in ["Healthy", "Degraded"] {
        let mut later = application(
            "OutOfSync",
            "5555555555555555555555555555555555555555",
            health,
        );
        later["status"]["summary"]["images"] = images(&[DIGEST, OTHER_DIGEST]);
        let cluster = Cluster::new(
            vec![application("Synced", OLD, "Healthy"), later.clone()],
            vec![pod("paktech-app-6d9f7c8b5d-x7k2p", DIGEST)],
        );
        let (result, _) = converge(cluster, Duration::from_millis(400), SyncMode::Automatic).await;
        let error = result.expect_err("not done while OutOfSync").to_string();
        assert!(
            error.contains(&format!(
                "was not synced to {REV} and healthy within 0s; last observed: sync OutOfSync at 9d1c0ab+5555555, health {health}"
            )),
            "{error}"
        );
        let cluster = Cluster::new(vec![later], Vec::new());
        let (pending, _) = against(
            cluster,
            |target| async move { target.pending(&desired()).await },
        )
        .await;
        assert!(pending.expect("pending"), "still pending while OutOfSync");
    }
}

#[test]
fn the_fixtures_are_shaped_as_argo_cd_3_writes_a_two_source_application() {
    let app = fixture("application");
    let status = &app["status"];
    assert_eq!(status["sourceTypes"], json!(["Helm", ""]));
    assert_eq!(
        status["sync"]["revisions"].as_array().map(Vec::len),
        Some(2)
    );
    let result = &status["operationState"]["syncResult"];
    assert_eq!(
        result["revision"], "",
        "a multi-source result leaves it empty"
    );
    assert_eq!(result["revisions"], status["sync"]["revisions"]);
    assert!(status["health"].get("message").is_none(), "{status:#}");
    assert_eq!(status["resourceHealthSource"], "appTree");
    let resources = status["resources"].as_array().expect("resources");
    assert!(
        resources.iter().all(|r| r.get("health").is_none()),
        "resource health lives in the app tree: {resources:#?}"
    );
    let deployment = fixture("deployment");
    assert_eq!(
        deployment["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"],
        "paktech-app-dev:apps/Deployment:paktech-dev/paktech-app"
    );
    assert!(
        deployment["metadata"]["labels"]
            .get("argocd.argoproj.io/instance")
            .is_none(),
        "3.x tracks by annotation, not by label"
    );
}
