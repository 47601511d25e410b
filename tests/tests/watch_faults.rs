//! A watch whose target stops answering, on the real Docker engine: the local target's
//! engine connection fails on demand (`tests::outage`) while prod is watched with analysis.
//! One round that cannot be judged (its probe and its metrics read both error) is reported
//! and retried, and the window completes and passes; an outage that outlasts
//! `monitor_failures` rounds rolls prod back without blocking the build, and the record says
//! so. A first promotion that fails says prod had no build before.

use std::sync::Arc;
use std::time::Duration;

use adapters::notify::Slack;
use adapters::target::{LocalTarget, Target};
use flow::{self, Pipeline};
use model::{GitSha, Secret};
use policy::analysis::Inconclusive;
use tests::outage::{EngineOutage, Lasting, RoundSwitch};
use tests::{another_build, deploy_dev, last_prod_commit, prod_runs};

/// A test pipeline whose prod is watched in 1s rounds (two failing in a row roll back) with
/// analysis under 20 synthetic requests/s, its target reaching the engine through `outage`.
/// No error-ratio comparison: it needs about 2,000 requests a window (the plan refuses less),
/// and what is under test is the watch, not the judge.
async fn setup(
    test: &str,
) -> Option<(
    tests::Cleanup,
    tempfile::TempDir,
    Pipeline,
    Arc<EngineOutage>,
)> {
    let docker = tests::docker_or_skip(test).await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix(test);
    let mut pipeline = tests::test_pipeline(dir.path(), docker, &prefix);
    let outage = Arc::new(EngineOutage::start());
    pipeline.target = Target::Local(LocalTarget::new(outage.docker.clone(), &prefix));
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.monitor_interval = Duration::from_secs(1);
    prod.monitor_failures = 2;
    prod.analysis = Some(tests::test_analysis(Inconclusive::Fail, Some(20.0)));
    Some((tests::Cleanup::new(&prefix), dir, pipeline, outage))
}

/// A first build in prod (promoted unwatched) and a second one made, not promoted yet.
async fn two_builds(test: &str, pipeline: &Pipeline) -> (GitSha, GitSha) {
    let docker = tests::docker_or_skip(test).await.expect("docker");
    let first = deploy_dev(pipeline, &docker).await;
    let (_, error) = tests::approved_to_prod(
        pipeline,
        &first,
        Duration::ZERO,
        "run-wf",
        &model::report::Silent,
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    let second = another_build(pipeline, &docker, None).await;
    (first, second)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_round_the_engine_does_not_answer_is_retried_and_the_window_passes() {
    let Some((_cleanup, _dir, pipeline, outage)) = setup("wf-blip").await else {
        return;
    };
    let (_, second) = two_builds("wf-blip", &pipeline).await;
    let switch = RoundSwitch::new(outage.clone(), Lasting::OneRound);
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &second,
        Duration::from_secs(6),
        "run-wf",
        &switch,
    )
    .await;
    let seen = switch.lines();
    assert!(error.is_none(), "{error:?}\n{seen}");
    assert!(
        seen.contains("round 2: could not be judged: probe: "),
        "{seen}"
    );
    assert!(seen.contains("; metrics: "), "{seen}");
    assert!(seen.contains("round 3: healthy; analysis "), "{seen}");
    let watched = report
        .steps
        .iter()
        .find(|s| s.step == "monitor-prod")
        .expect("monitor step");
    assert!(watched.detail.ends_with(": pass"), "{}", watched.detail);
    prod_runs(&pipeline, &second).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_outage_through_the_window_rolls_back_without_blocking() {
    let Some((_cleanup, dir, mut pipeline, outage)) = setup("wf-outage").await else {
        return;
    };
    let (webhook, posts) = tests::webhook(vec![200], false).await;
    pipeline.slack = Some(Slack::new(Secret::new(webhook), Duration::from_secs(2), 1));
    let (first, second) = two_builds("wf-outage", &pipeline).await;
    let switch = RoundSwitch::new(outage.clone(), Lasting::UntilRollback);
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &second,
        Duration::from_secs(20),
        "run-wf",
        &switch,
    )
    .await;
    let seen = switch.lines();
    let error = error.expect("rolled back");
    assert!(
        matches!(error, flow::Error::RolledBack { blocked: false, .. }),
        "{error}\n{seen}"
    );
    let message = error.to_string();
    assert!(message.contains("could not be judged"), "{message}");
    assert!(
        message.contains(&format!("rolled back to {first}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("{second} is not blocked")),
        "{message}"
    );
    let rolled = report.rollback.expect("rollback");
    assert_eq!(rolled.to_sha, first.as_str());
    assert_eq!(rolled.blocked, None);
    // Two rounds that could not be judged, none healthy in between.
    assert!(seen.contains("round 2: could not be judged"), "{seen}");
    assert!(seen.contains("round 3: could not be judged"), "{seen}");

    let commit = last_prod_commit(dir.path(), &pipeline);
    assert!(commit.contains("Pipeline-Action: rollback"), "{commit}");
    assert!(commit.contains("\nWatch-Verdict: unproven"), "{commit}");
    assert!(!commit.contains("Blocked-Sha"), "{commit}");
    assert!(
        tests::prod_rollback_says(&pipeline, "Watch-Verdict: unproven").await,
        "history"
    );
    let posts = tests::posted(&posts);
    assert!(
        posts
            .iter()
            .any(|p| p.contains("rolled back in prod") && p.contains("could not judge")),
        "{posts:#?}"
    );
    prod_runs(&pipeline, &first).await;
    // Not blocked: the same build may be promoted again.
    let records = pipeline.records().read().expect("records");
    assert!(
        records.block(&tests::app(), &second).is_none(),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_promotion_that_cannot_be_judged_says_prod_had_no_build_before() {
    let Some((_cleanup, dir, mut pipeline, outage)) = setup("wf-first").await else {
        return;
    };
    let (webhook, posts) = tests::webhook(vec![200], false).await;
    pipeline.slack = Some(Slack::new(Secret::new(webhook), Duration::from_secs(2), 1));
    let docker = tests::docker_or_skip("wf-first").await.expect("docker");
    let first = deploy_dev(&pipeline, &docker).await;
    let switch = RoundSwitch::new(outage.clone(), Lasting::UntilRollback);
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &first,
        Duration::from_secs(20),
        "run-wf",
        &switch,
    )
    .await;
    let error = error.expect("rolled back");
    let message = error.to_string();
    assert!(
        message.contains("prod had no build before this one: rolled back to no build"),
        "{message}"
    );
    assert!(!message.contains("rolled back to  "), "{message}");
    assert_eq!(report.rollback.expect("rollback").to_sha, "");
    let commit = last_prod_commit(dir.path(), &pipeline);
    assert!(
        commit.contains(&format!(
            "roll back paktech-app from {first} to none (prod had no build before)"
        )),
        "{commit}"
    );
    let posts = tests::posted(&posts);
    assert!(
        posts
            .iter()
            .any(|p| p.contains("none (prod had no build before)")),
        "{posts:#?}"
    );
}
