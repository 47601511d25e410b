//! Prod's watch on the kube target, against the simulated Argo CD and API server
//! (`tests/src/fake_cluster.rs`) whose pod reads fail on demand (503, as an API server that
//! restarts): one round that cannot be judged is retried and the window completes; an outage
//! that outlasts `monitor_failures` rounds rolls prod back without blocking the build; one that
//! outlasts the rollback too ends saying prod runs an unverified build and how to roll it back,
//! and tells Slack.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use adapters::notify::Slack;
use adapters::registry::{Distribution, Registry};
use flow::promote::{self, ApprovalMode, PromoteOptions, PromoteReport};
use flow::{self, Clock, Pipeline, sync};
use model::report::Silent;
use model::{GitSha, Secret};
use tests::fake_cluster::FakeCluster;
use tests::outage::{Lasting, RoundSwitch};
use tests::{Answer, env, pretend_it_ran};

const GOOD: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const NEW: &str = "cccccccccccccccccccccccccccccccccccccccc";

fn digest_of(tag: &str) -> String {
    format!(
        "sha256:{}",
        tag.repeat(2).chars().take(64).collect::<String>()
    )
}

/// A registry that has every build, each under the digest [`digest_of`] its tag.
async fn registry() -> u16 {
    tests::http_stand_in(|line| {
        let tag = line
            .split_whitespace()
            .nth(1)
            .and_then(|path| path.rsplit('/').next())
            .unwrap_or_default()
            .to_owned();
        Answer {
            status: "200 OK",
            headers: vec![
                ("docker-content-digest", digest_of(&tag)),
                (
                    "content-type",
                    "application/vnd.oci.image.manifest.v1+json".to_owned(),
                ),
            ],
            body: String::new(),
        }
    })
    .await
}

/// Prod on the simulated cluster running GOOD, watched in 1s rounds (two failing in a row
/// roll back), NEW approved for it; and the outage switch.
async fn prod_at_good(dir: &std::path::Path) -> (Pipeline, Arc<AtomicBool>) {
    // The Docker client is never used here: it only fills the pipeline's image fields.
    let docker = bollard::Docker::connect_with_defaults().expect("a docker client value");
    let mut pipeline = tests::test_pipeline(dir, docker, "unused");
    pipeline.clock = Clock::Fixed(tests::DAYTIME.parse().expect("time"));
    pipeline.config.apps[0].repository = format!("127.0.0.1:{}/paktech-app", registry().await)
        .parse()
        .expect("repository");
    pipeline.registry = Registry::Distribution(Distribution::new(None));
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.monitor_interval = Duration::from_secs(1);
    prod.monitor_failures = 2;
    prod.analysis = None;
    let (_cluster, outage) = FakeCluster::host_with_outage(&mut pipeline, dir.join("gitops.git"));
    let good: GitSha = GOOD.parse().expect("sha");
    pretend_it_ran(&pipeline, "prod", &good, &digest_of(GOOD));
    let config = pipeline.config.environment("prod").expect("prod").clone();
    sync::deploy(&pipeline, &pipeline.config.apps[0], &config, GOOD, &Silent)
        .await
        .expect("prod runs GOOD");
    let new: GitSha = NEW.parse().expect("sha");
    pretend_it_ran(&pipeline, "staging", &new, &digest_of(NEW));
    tests::request_and_approve(&pipeline, "prod", &new, "alice", "bob").await;
    (pipeline, outage)
}

async fn promote_new(
    pipeline: &Pipeline,
    switch: &RoundSwitch,
) -> (PromoteReport, Option<flow::Error>) {
    let options = PromoteOptions {
        apps: Vec::new(),
        env: env("prod"),
        sha: Some(NEW.parse().expect("sha")),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: "kube-watch".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(Duration::from_secs(5)),
    };
    let (report, error) = promote::run(pipeline, &options, switch).await;
    for step in &report.steps {
        eprintln!("[{:?}] {}: {}", step.outcome, step.step, step.detail);
    }
    (report, error)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_round_the_api_server_does_not_answer_is_retried_and_the_window_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, outage) = prod_at_good(dir.path()).await;
    let switch = RoundSwitch::new(outage, Lasting::OneRound);
    let (report, error) = promote_new(&pipeline, &switch).await;
    let seen = switch.lines();
    assert!(error.is_none(), "{error:?}\n{seen}");
    assert!(
        seen.contains("round 2: could not be judged: probe: "),
        "{seen}"
    );
    assert!(seen.contains("round 3: healthy"), "{seen}");
    assert!(report.rollback.is_none(), "{report:#?}");
    let probes = pipeline
        .target
        .probe(&tests::app(), &env("prod"))
        .await
        .expect("probe");
    assert!(probes.iter().all(|(_, p)| p.runs(NEW)), "{probes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_server_outage_through_the_window_rolls_back_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (pipeline, outage) = prod_at_good(dir.path()).await;
    let switch = RoundSwitch::new(outage, Lasting::UntilRollback);
    let (report, error) = promote_new(&pipeline, &switch).await;
    let seen = switch.lines();
    let error = error.expect("rolled back");
    assert!(
        matches!(error, flow::Error::RolledBack { blocked: false, .. }),
        "{error}\n{seen}"
    );
    assert!(
        error.to_string().contains(&format!("{NEW} is not blocked")),
        "{error}"
    );
    let rolled = report.rollback.expect("rollback");
    assert_eq!((rolled.to_sha.as_str(), rolled.blocked), (GOOD, None));
    let records = pipeline.records().read().expect("records");
    assert!(
        records
            .block(&tests::app(), &NEW.parse().expect("sha"))
            .is_none()
    );
    let probes = pipeline
        .target
        .probe(&tests::app(), &env("prod"))
        .await
        .expect("probe");
    assert!(probes.iter().all(|(_, p)| p.runs(GOOD)), "{probes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_the_outage_also_stops_says_prod_runs_an_unverified_build_and_how_to_fix_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut pipeline, outage) = prod_at_good(dir.path()).await;
    // The rollback's own wait for prod gives up soon.
    tests::env_mut(&mut pipeline, "prod").sync_timeout = Duration::from_secs(3);
    let (webhook, posts) = tests::webhook(vec![200], false).await;
    pipeline.slack = Some(Slack::new(Secret::new(webhook), Duration::from_secs(2), 1));
    let switch = RoundSwitch::new(outage, Lasting::Throughout);
    let (_, error) = promote_new(&pipeline, &switch).await;
    let error = error.expect("failed");
    assert!(matches!(error, flow::Error::Unverified { .. }), "{error}");
    let message = error.to_string();
    for needle in [
        format!("prod runs an unverified build of paktech-app, {NEW}"),
        format!("`cargo xtask rollback --env prod --app paktech-app --if-running {NEW} --reason "),
        "could not be judged".to_owned(),
    ] {
        assert!(message.contains(&needle), "{needle} in {message}");
    }
    let posts = tests::posted(&posts);
    assert!(
        posts
            .iter()
            .any(|p| p.contains("runs UNVERIFIED in prod") && p.contains("--if-running")),
        "{posts:#?}"
    );
}
