//! Metric analysis in prod's watch, on the real Docker engine: releases that are healthy but
//! fail a fifth of `/` or answer ten times slower are real builds (`tests::faulty`), rolled
//! back with the figures named (error, rollback commit, history, Slack); a good release under the pipeline's synthetic load passes; a
//! window without traffic takes the configured inconclusive outcome.

use std::sync::Mutex;
use std::time::Duration;

use adapters::notify::Slack;
use bollard::Docker;
use flow::promote::PromoteReport;
use flow::{self, Pipeline};
use model::Secret;
use model::report::{Event, Reporter};
use policy::analysis::Inconclusive;
use tests::faulty::{Fault, faulty_build};
use tests::{another_build, deploy_dev, last_prod_commit, prod_runs};

/// Every progress line, for the assertions on what a watcher saw.
#[derive(Debug, Default)]
struct Lines(Mutex<Vec<String>>);

impl Reporter for Lines {
    fn event(&self, event: Event) {
        if let Event::Progress { step, message } = event
            && step.starts_with("monitor")
        {
            eprintln!("  {step}: {message}");
            self.0
                .lock()
                .expect("lines")
                .push(format!("{step}: {message}"));
        }
    }
}

impl Lines {
    fn all(&self) -> String {
        self.0.lock().expect("lines").join("\n")
    }
}

/// A test pipeline whose prod is watched in 1s rounds (two failing in a row roll back)
/// with these analysis settings; and the guard that removes its containers. No error-ratio
/// comparison with the previous build: catching a doubled error ratio takes about 2,000
/// requests a window (the plan refuses a window that cannot hold them), more than these
/// seconds-long windows get; the absolute limits and the p99 comparison are under test here
/// (the comparison's error rates are `cargo xtask bench analysis`'s).
async fn setup(
    test: &str,
    inconclusive: Inconclusive,
    load_rate: Option<f64>,
) -> Option<(tests::Cleanup, tempfile::TempDir, Pipeline, Docker)> {
    let docker = tests::docker_or_skip(test).await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix(test);
    let mut pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.monitor_interval = Duration::from_secs(1);
    prod.monitor_failures = 2;
    prod.analysis = Some(tests::test_analysis(inconclusive, load_rate));
    Some((tests::Cleanup::new(&prefix), dir, pipeline, docker))
}

fn step<'a>(report: &'a PromoteReport, name: &str) -> &'a str {
    report
        .steps
        .iter()
        .find(|s| s.step == name)
        .map(|s| s.detail.as_str())
        .unwrap_or_else(|| panic!("no step {name}: {report:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_failing_a_fifth_of_its_requests_is_rolled_back_by_the_error_ratio() {
    let Some((_cleanup, dir, mut pipeline, docker)) =
        setup("an-errors", Inconclusive::Fail, Some(20.0)).await
    else {
        return;
    };
    let (webhook, posts) = tests::webhook(vec![200], false).await;
    pipeline.slack = Some(Slack::new(Secret::new(webhook), Duration::from_secs(2), 1));
    let good = deploy_dev(&pipeline, &docker).await;
    let (_, error) = tests::approved_to_prod(
        &pipeline,
        &good,
        Duration::ZERO,
        "run-analysis",
        &Lines::default(),
    )
    .await;
    assert!(error.is_none(), "{error:?}");

    let bad = faulty_build(&pipeline, &docker, Fault::FailingFifth).await;
    let lines = Lines::default();
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &bad,
        Duration::from_secs(10),
        "run-analysis",
        &lines,
    )
    .await;
    let error = error.expect("rolled back");
    assert!(matches!(error, flow::Error::RolledBack { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("analysis fail: error ratio 0."),
        "{message}"
    );
    assert!(message.contains("> 0.050 on GET /"), "{message}");
    assert_eq!(report.rollback.expect("rollback").to_sha, good.as_str());
    // The health checks alone saw nothing wrong: every round's replicas were healthy.
    let seen = lines.all();
    assert!(seen.contains("monitor-prod: round 1: healthy"), "{seen}");

    let commit = last_prod_commit(dir.path(), &pipeline);
    assert!(commit.contains("Pipeline-Action: rollback"), "{commit}");
    assert!(commit.contains("\nAnalysis: error ratio 0."), "{commit}");
    assert!(commit.contains("\nWatch-Verdict: bad"), "{commit}");
    assert!(
        commit.contains(&format!("\nBlocked-Sha: {bad}")),
        "{commit}"
    );
    assert!(commit.contains("> 0.050 on GET /"), "{commit}");
    assert!(
        tests::prod_rollback_says(&pipeline, "Analysis: error ratio").await,
        "history"
    );
    let posts = tests::posted(&posts);
    assert!(
        posts.iter().any(|p| p.contains("rolled back in prod")
            && p.contains("Analysis")
            && p.contains("error ratio 0.")),
        "{posts:#?}"
    );
    prod_runs(&pipeline, &good).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_ten_times_slower_is_rolled_back_by_the_p99_rule() {
    let Some((_cleanup, dir, pipeline, docker)) =
        setup("an-slow", Inconclusive::Fail, Some(20.0)).await
    else {
        return;
    };
    // The build before answers `/` in 5ms (so the comparison is with a real figure, not the
    // floor), and serves the load of its own window: that is the baseline.
    let before = faulty_build(&pipeline, &docker, Fault::Slow(Duration::from_millis(5))).await;
    let lines = Lines::default();
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &before,
        Duration::from_secs(5),
        "run-analysis",
        &lines,
    )
    .await;
    assert!(error.is_none(), "{error:?}\n{}", lines.all());
    assert!(
        step(&report, "monitor-prod").ends_with(": pass"),
        "{report:#?}"
    );

    let slow = faulty_build(&pipeline, &docker, Fault::Slow(Duration::from_millis(50))).await;
    let lines = Lines::default();
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &slow,
        Duration::from_secs(10),
        "run-analysis",
        &lines,
    )
    .await;
    let error = error.expect("rolled back");
    assert!(matches!(error, flow::Error::RolledBack { .. }), "{error}");
    let baseline = step(&report, "baseline-prod");
    assert!(
        baseline.starts_with("previous build over 10s: "),
        "{baseline}"
    );
    let message = error.to_string();
    // Under the absolute 250ms, but more than 3× the previous build's p99.
    assert!(message.contains("analysis fail: p99 "), "{message}");
    assert!(message.contains("(previous build "), "{message}");
    assert!(!message.contains("> 250.0ms"), "{message}");
    let commit = last_prod_commit(dir.path(), &pipeline);
    assert!(commit.contains("\nAnalysis: p99 "), "{commit}");
    prod_runs(&pipeline, &before).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_release_under_synthetic_traffic_passes() {
    let Some((_cleanup, _dir, pipeline, docker)) =
        setup("an-good", Inconclusive::Fail, Some(20.0)).await
    else {
        return;
    };
    let first = deploy_dev(&pipeline, &docker).await;
    let (_, error) = tests::approved_to_prod(
        &pipeline,
        &first,
        Duration::ZERO,
        "run-analysis",
        &Lines::default(),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    let second = another_build(&pipeline, &docker, None).await;
    let lines = Lines::default();
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &second,
        Duration::from_secs(5),
        "run-analysis",
        &lines,
    )
    .await;
    assert!(error.is_none(), "{error:?}\n{}", lines.all());
    let verdict = step(&report, "monitor-prod");
    assert!(verdict.contains("; analysis "), "{verdict}");
    assert!(verdict.contains(" synthetic)"), "{verdict}");
    assert!(verdict.ends_with(": pass"), "{verdict}");
    let seen = lines.all();
    assert!(
        seen.contains("monitor-prod: round 1: healthy; analysis "),
        "{seen}"
    );
    prod_runs(&pipeline, &second).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_without_traffic_takes_the_configured_inconclusive_outcome() {
    let Some((_cleanup, dir, mut pipeline, docker)) =
        setup("an-quiet", Inconclusive::Pass, None).await
    else {
        return;
    };
    // "pass": a quiet window lets the release stay.
    let first = deploy_dev(&pipeline, &docker).await;
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &first,
        Duration::from_secs(2),
        "run-analysis",
        &Lines::default(),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    let verdict = step(&report, "monitor-prod");
    assert!(
        verdict.contains("0 request(s) at 0.0/s")
            && verdict.ends_with("at least 20 needed (passed: inconclusive = \"pass\")"),
        "{verdict}"
    );

    // "extend": watched once more, still quiet, so it fails closed and rolls back.
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.analysis.as_mut().expect("analysis").inconclusive = Inconclusive::Extend;
    let second = another_build(&pipeline, &docker, None).await;
    let lines = Lines::default();
    let (report, error) = tests::approved_to_prod(
        &pipeline,
        &second,
        Duration::from_secs(2),
        "run-analysis",
        &lines,
    )
    .await;
    let error = error.expect("rolled back");
    assert!(
        matches!(error, flow::Error::RolledBack { blocked: false, .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("analysis inconclusive: 0 request(s)"),
        "{message}"
    );
    // Nothing showed the build bad: rolled back, not blocked, and the record says which.
    assert!(
        message.contains(&format!("{second} is not blocked")),
        "{message}"
    );
    let seen = lines.all();
    assert!(seen.contains(": watching 2s more"), "{seen}");
    let rolled = report.rollback.expect("rollback");
    assert_eq!(rolled.to_sha, first.as_str());
    assert_eq!(rolled.blocked, None);
    let commit = last_prod_commit(dir.path(), &pipeline);
    assert!(commit.contains("\nWatch-Verdict: unproven"), "{commit}");
    assert!(!commit.contains("Blocked-Sha"), "{commit}");
    prod_runs(&pipeline, &first).await;
}
