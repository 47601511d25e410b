//! A canary in prod on the real Docker engine: a release failing a fifth of `/` (a real build,
//! `tests::faulty`) runs as exactly one replica beside the old ones under the pipeline's
//! synthetic load and is rolled back after the canary window, the old replicas serving all
//! along; a good release passes its canary and then runs on every replica.

use std::sync::Mutex;
use std::time::Duration;

use bollard::Docker;
use flow::promote::PromoteReport;
use flow::{self, Pipeline};
use model::GitSha;
use model::report::{Event, Reporter};
use policy::analysis::Inconclusive;
use tests::faulty::{Fault, faulty_build};
use tests::{another_build, deploy_dev, env};

const WINDOW: Duration = Duration::from_secs(6);

/// The flow's events in order, as `step: message` lines (`> step` when a step starts).
#[derive(Debug, Default)]
struct Events(Mutex<Vec<String>>);

impl Reporter for Events {
    fn event(&self, event: Event) {
        let line = match event {
            Event::Started { step } => format!("> {step}"),
            Event::Progress { step, message } => format!("{step}: {message}"),
            Event::Finished { step, detail, .. } => format!("< {step}: {detail}"),
        };
        self.0.lock().expect("events").push(line);
    }
}

impl Events {
    /// The lines between `step`'s start and its end.
    fn during(&self, step: &str) -> Vec<String> {
        let all = self.0.lock().expect("events").clone();
        all.into_iter()
            .skip_while(|l| *l != format!("> {step}"))
            .take_while(|l| !l.starts_with(&format!("< {step}:")))
            .collect()
    }

    /// How many replicas of `sha` the local target started (its convergence report).
    fn started(&self, sha: &GitSha) -> usize {
        let all = self.0.lock().expect("events");
        let serving = format!("waiting until it serves {sha}");
        all.iter()
            .filter(|l| l.starts_with("sync: started ") && l.ends_with(&serving))
            .count()
    }
}

/// A test pipeline whose prod judges a canary of [`WINDOW`] by these thresholds, under
/// 20 requests/s of synthetic load; and the guard that removes its containers. No error-ratio
/// comparison: each side would need about 2,000 requests (the plan refuses a canary that
/// cannot get them); the absolute limit is what catches the faulty canary here.
async fn setup(test: &str) -> Option<(tests::Cleanup, tempfile::TempDir, Pipeline, Docker)> {
    let docker = tests::docker_or_skip(test).await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix(test);
    let mut pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.monitor_interval = Duration::from_secs(1);
    prod.analysis = Some(tests::test_analysis(Inconclusive::Fail, Some(20.0)));
    Some((tests::Cleanup::new(&prefix), dir, pipeline, docker))
}

/// Prod running `sha` on all its replicas, promoted without a canary.
async fn prod_at(pipeline: &mut Pipeline, sha: &GitSha) {
    let canary = tests::env_mut(pipeline, "prod").canary.take();
    let (_, error) = to_prod(pipeline, sha, &Events::default()).await;
    assert!(error.is_none(), "{error:?}");
    tests::env_mut(pipeline, "prod").canary = canary;
}

/// Promotes `sha` to prod without the watch after it (the canary is what is under test).
async fn to_prod(
    pipeline: &Pipeline,
    sha: &GitSha,
    reporter: &dyn Reporter,
) -> (PromoteReport, Option<flow::Error>) {
    tests::approved_to_prod(pipeline, sha, Duration::ZERO, "run-canary", reporter).await
}

/// What the engine ran while a promotion went on: the most running replicas of the new
/// build and the fewest of the old one, seen every 100ms.
#[derive(Debug, Clone, Copy)]
struct Seen {
    most_new: usize,
    fewest_old: usize,
}

async fn promote_watched(
    pipeline: &Pipeline,
    old: &GitSha,
    new: &GitSha,
    reporter: &dyn Reporter,
) -> (PromoteReport, Option<flow::Error>, Seen) {
    let seen = Mutex::new(Seen {
        most_new: 0,
        fewest_old: usize::MAX,
    });
    let watch = async {
        loop {
            let replicas = tests::local(pipeline)
                .replicas(&tests::app(), &env("prod"), None)
                .await
                .expect("replicas");
            let running = |sha: &GitSha| {
                replicas
                    .iter()
                    .filter(|r| r.running && r.tag == sha.as_str())
                    .count()
            };
            {
                let mut s = seen.lock().expect("seen");
                s.most_new = s.most_new.max(running(new));
                s.fewest_old = s.fewest_old.min(running(old));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (report, error) = tokio::select! {
        done = to_prod(pipeline, new, reporter) => done,
        () = watch => unreachable!("the watch never ends"),
    };
    let seen = *seen.lock().expect("seen");
    eprintln!("seen on the engine: {seen:?}");
    (report, error, seen)
}

fn detail<'a>(report: &'a PromoteReport, step: &str) -> Option<&'a str> {
    report
        .steps
        .iter()
        .find(|s| s.step == step)
        .map(|s| s.detail.as_str())
}

async fn prod_runs_only(pipeline: &Pipeline, sha: &GitSha, replicas: usize) {
    let probes = pipeline
        .target
        .probe(&tests::app(), &env("prod"))
        .await
        .expect("probe");
    assert_eq!(probes.len(), replicas, "{probes:?}");
    assert!(
        probes.iter().all(|(_, p)| p.runs(sha.as_str())),
        "{probes:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_faulty_canary_is_rolled_back_and_only_it_ever_ran_the_build() {
    let Some((_cleanup, dir, mut pipeline, docker)) = setup("canary-bad").await else {
        return;
    };
    let good = deploy_dev(&pipeline, &docker).await;
    prod_at(&mut pipeline, &good).await;
    tests::env_mut(&mut pipeline, "prod").canary = Some(WINDOW);

    let bad = faulty_build(&pipeline, &docker, Fault::FailingFifth).await;
    let events = Events::default();
    let (report, error, seen) = promote_watched(&pipeline, &good, &bad, &events).await;
    let error = error.expect("rolled back");
    assert!(matches!(error, flow::Error::RolledBack { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("canary analysis fail: error ratio 0."),
        "{message}"
    );
    assert!(message.contains("> 0.050 on GET /"), "{message}");
    let rolled = report.rollback.as_ref().expect("rollback");
    assert_eq!(rolled.to_sha, good.as_str());

    // One canary, never more; the three old replicas served all along.
    assert_eq!(
        events.started(&bad),
        1,
        "{:#?}",
        events.during("canary-prod")
    );
    assert_eq!(seen.most_new, 1, "{seen:?}");
    assert_eq!(seen.fewest_old, 3, "{seen:?}");
    let canary = detail(&report, "canary-prod").expect("canary step");
    assert!(canary.starts_with("canary "), "{canary}");
    assert!(canary.contains("; old "), "{canary}");
    assert!(canary.contains(": fail: error ratio"), "{canary}");
    let during = events.during("canary-prod").join("\n");
    assert!(during.contains("beside 3 old replica(s)"), "{during}");
    // The rest never rolled out: no deploy of the faulty build.
    assert!(detail(&report, "deploy-prod").is_none(), "{report:#?}");

    let commit = tests::git_cli(
        &dir.path().join("gitops.git"),
        &["log", "-1", "--format=%B", "main"],
    );
    assert!(commit.contains("Pipeline-Action: rollback"), "{commit}");
    assert!(
        commit.contains("\nAnalysis: canary: error ratio 0."),
        "{commit}"
    );
    prod_runs_only(&pipeline, &good, 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_canary_passes_and_then_every_replica_runs_the_build() {
    let Some((_cleanup, _dir, mut pipeline, docker)) = setup("canary-good").await else {
        return;
    };
    let first = deploy_dev(&pipeline, &docker).await;
    prod_at(&mut pipeline, &first).await;
    tests::env_mut(&mut pipeline, "prod").canary = Some(WINDOW);

    let second = another_build(&pipeline, &docker, None).await;
    let events = Events::default();
    let (report, error, seen) = promote_watched(&pipeline, &first, &second, &events).await;
    assert!(
        error.is_none(),
        "{error:?}\n{:#?}",
        events.during("canary-prod")
    );
    let canary = detail(&report, "canary-prod").expect("canary step");
    assert!(canary.ends_with(": pass"), "{canary}");
    // The canary step started exactly one; the deploy rolled the other two.
    let during = events.during("canary-prod");
    let serving = format!("waiting until it serves {second}");
    assert_eq!(
        during.iter().filter(|l| l.ends_with(&serving)).count(),
        1,
        "{during:#?}"
    );
    assert_eq!(events.started(&second), 3);
    assert_eq!(seen.most_new, 3, "{seen:?}");
    assert_eq!(seen.fewest_old, 0, "{seen:?}");
    prod_runs_only(&pipeline, &second, 3).await;
}
