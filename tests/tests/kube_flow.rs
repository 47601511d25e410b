//! The flows on the kube target, against a simulated Argo CD (`tests/src/fake_cluster.rs`)
//! that reads the GitOps remote as Argo CD would. Inside prod's deny window a promotion is
//! held back, and a rollback passes as an explicit sync of the prod Application; outside it,
//! a refresh is all the pipeline asks for. Either way the result is verified by digest and
//! smoke-tested through the pod proxy. A rollback after a rollout that ended `Degraded` waits
//! for Argo CD to sync its own revision instead of failing on the bad rollout's state.

use flow::rollback::{self, RollbackOptions};
use flow::{Clock, Pipeline, sync};
use model::GitSha;
use model::report::Silent;
use tests::fake_cluster::{Asked, FakeCluster};
use tests::{env, pretend_it_ran};

const GOOD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const GOOD_DIGEST: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const BAD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const BAD_DIGEST: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// A pipeline on a kube target whose cluster is simulated, standing at `now`.
fn on_cluster(
    dir: &std::path::Path,
    now: &str,
    deny_window: bool,
    failing: &[&str],
) -> (Pipeline, tokio::task::JoinHandle<Asked>) {
    // The Docker client is never used here: it only fills the pipeline's image fields.
    let docker = bollard::Docker::connect_with_defaults().expect("a docker client value");
    let mut pipeline = tests::test_pipeline(dir, docker, "unused");
    pipeline.clock = Clock::Fixed(now.parse().expect("time"));
    let cluster = FakeCluster::host(&mut pipeline, dir.join("gitops.git"), deny_window, failing);
    (pipeline, cluster)
}

fn rollback_options() -> RollbackOptions {
    RollbackOptions {
        app: tests::app(),
        env: env("prod"),
        to: None,
        reason: "the bad build fails its checks".parse().expect("reason"),
        requested_by: "oncall".parse().expect("person"),
        run_id: "kube-flow".to_owned(),
        if_running: None,
        dry_run: false,
        analysis: None,
        verdict: None,
    }
}

fn sha(s: &str) -> GitSha {
    s.parse().expect("sha")
}

#[tokio::test]
async fn inside_the_deny_window_a_promotion_waits_and_a_rollback_syncs_prod_explicitly() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 23:00 UTC: inside prod's deny window (22:00 for 8 hours, gitops/bootstrap/appproject.yaml).
    let (pipeline, cluster) = on_cluster(dir.path(), "2026-11-26T23:00:00Z", true, &[]);
    let prod = pipeline.config.environment("prod").expect("prod").clone();

    pretend_it_ran(&pipeline, "prod", &sha(GOOD), GOOD_DIGEST);
    let held = sync::sync_env(&pipeline, &prod, None, &Silent)
        .await
        .expect("sync");
    assert!(!held[0].convergence.changed(), "{held:?}");

    pretend_it_ran(&pipeline, "prod", &sha(BAD), BAD_DIGEST);
    let rolled = rollback::rollback(&pipeline, &rollback_options(), &Silent)
        .await
        .expect("the rollback passes the window");
    assert_eq!(rolled.to_sha, GOOD);
    let revision = rolled
        .written
        .as_ref()
        .expect("written")
        .revision()
        .to_string();

    // Every replica runs the good build by digest and says so through the pod proxy.
    let probes = pipeline
        .target
        .probe(&tests::app(), &prod.name)
        .await
        .expect("probe");
    assert_eq!(probes.len(), 3, "prod's values ask for 3 replicas");
    assert!(probes.iter().all(|(_, p)| p.runs(GOOD)), "{probes:?}");

    drop(pipeline);
    let asked = cluster.await.expect("cluster");
    assert_eq!(
        asked.syncs.get("prod"),
        Some(&vec![revision]),
        "exactly one explicit sync, of the rollback commit"
    );
    assert_eq!(
        asked.refreshes.get("prod"),
        Some(&1),
        "the held promotion asked Argo CD for nothing"
    );
}

#[tokio::test]
async fn outside_the_deny_window_argo_cd_is_only_asked_to_refresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, cluster) = on_cluster(dir.path(), "2026-11-26T12:00:00Z", false, &[]);
    let prod = pipeline.config.environment("prod").expect("prod").clone();

    pretend_it_ran(&pipeline, "prod", &sha(GOOD), GOOD_DIGEST);
    sync::deploy(&pipeline, &pipeline.config.apps[0], &prod, GOOD, &Silent)
        .await
        .expect("deploy the good build");
    pretend_it_ran(&pipeline, "prod", &sha(BAD), BAD_DIGEST);
    sync::deploy(&pipeline, &pipeline.config.apps[0], &prod, BAD, &Silent)
        .await
        .expect("deploy the bad build");
    let rolled = rollback::rollback(&pipeline, &rollback_options(), &Silent)
        .await
        .expect("rollback");
    assert_eq!(rolled.to_sha, GOOD);
    let probes = pipeline
        .target
        .probe(&tests::app(), &prod.name)
        .await
        .expect("probe");
    assert!(probes.iter().all(|(_, p)| p.runs(GOOD)), "{probes:?}");

    drop(pipeline);
    let asked = cluster.await.expect("cluster");
    assert!(asked.syncs.is_empty(), "{asked:?}");
    assert_eq!(asked.refreshes.get("prod"), Some(&3));
}

#[tokio::test]
async fn a_rollback_after_a_degraded_rollout_waits_for_its_own_revision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, cluster) = on_cluster(dir.path(), "2026-11-26T12:00:00Z", false, &[BAD]);
    let prod = pipeline.config.environment("prod").expect("prod").clone();

    pretend_it_ran(&pipeline, "prod", &sha(GOOD), GOOD_DIGEST);
    sync::deploy(&pipeline, &pipeline.config.apps[0], &prod, GOOD, &Silent)
        .await
        .expect("deploy the good build");
    pretend_it_ran(&pipeline, "prod", &sha(BAD), BAD_DIGEST);
    let failed = sync::deploy(&pipeline, &pipeline.config.apps[0], &prod, BAD, &Silent)
        .await
        .expect_err("the bad build's rollout ends Degraded")
        .to_string();
    assert!(failed.contains("health Degraded"), "{failed}");

    // Argo CD still shows the bad rollout (Synced at its revision, Degraded, the good build's
    // pods still listed among the images) when the rollback asks for a refresh.
    let rolled = rollback::rollback(&pipeline, &rollback_options(), &Silent)
        .await
        .expect("the rollback waits for its own revision");
    assert_eq!(rolled.to_sha, GOOD);
    let probes = pipeline
        .target
        .probe(&tests::app(), &prod.name)
        .await
        .expect("probe");
    assert_eq!(probes.len(), 3, "{probes:?}");
    assert!(probes.iter().all(|(_, p)| p.runs(GOOD)), "{probes:?}");

    drop(pipeline);
    let asked = cluster.await.expect("cluster");
    assert!(asked.syncs.is_empty(), "{asked:?}");
    assert_eq!(asked.refreshes.get("prod"), Some(&3));
}
