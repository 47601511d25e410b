//! Two apps delivered together on the real Docker engine and a real bare GitOps repository:
//! `ci` builds both and writes dev in one commit, the gateway reaches paktech-app by name,
//! a promotion moves every app whose build differs as one release (one approval, one commit,
//! rollouts in dependency order), an app that did not change stays where it is, and a release
//! whose dependent app fails its watch is rolled back whole, blocking only that app's build.
//! An environment made under the local target's former names is adopted by the next sync
//! with a gateway answering through to paktech-app at every moment.

use adapters::target::{LocalTarget, Target};
use bollard::Docker;
use flow::ci::{self, CiOptions};
use flow::promote::{self, ApprovalMode, PromoteOptions, StageOutcome};
use flow::{self, Pipeline, sync};
use model::audit::keys;
use model::report::Silent;
use model::{AppName, GitSha};
use policy::changes::BuildDecision;
use policy::plan::release_id;
use tests::faulty::{Fault, faulty_build_of};
use tests::{another_build, digest_of_app, env, pretend_they_ran, request_and_approve};

const APPS: [&str; 2] = ["paktech-app", "paktech-gateway"];

fn app(name: &str) -> AppName {
    name.parse().expect("app")
}

fn options(target: &str, apps: &[&str], monitor: u64) -> PromoteOptions {
    PromoteOptions {
        env: env(target),
        apps: apps.iter().map(|a| app(a)).collect(),
        sha: None,
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: "run-release".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(std::time::Duration::from_secs(monitor)),
    }
}

async fn setup(test: &str) -> Option<(tests::Cleanup, tempfile::TempDir, Pipeline, Docker)> {
    let docker = tests::docker_or_skip(test).await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix(test);
    let pipeline = tests::test_pipeline_of(dir.path(), docker.clone(), &prefix, &APPS);
    Some((tests::Cleanup::new(&prefix), dir, pipeline, docker))
}

/// The message of the newest commit on the test remote's main branch.
fn last_commit(dir: &std::path::Path) -> String {
    tests::git_cli(
        &dir.join("gitops.git"),
        &["log", "-1", "--format=%B", "main"],
    )
}

/// The files the newest commit on main changed.
fn last_files(dir: &std::path::Path) -> Vec<String> {
    tests::git_cli(
        &dir.join("gitops.git"),
        &["show", "--name-only", "--format=", "main"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// What the gateway of `env` answers on `GET /`: which builds served the request.
async fn through_the_gateway(pipeline: &Pipeline, env_name: &str) -> serde_json::Value {
    let replicas = pipeline
        .target
        .probe(&app("paktech-gateway"), &env(env_name))
        .await
        .expect("probe");
    let url = replicas
        .iter()
        .find_map(|(r, _)| r.url.clone())
        .expect("a published gateway replica");
    reqwest::get(format!("{url}/"))
        .await
        .expect("GET /")
        .json()
        .await
        .expect("JSON")
}

/// Promotes `apps` (every app that differs when empty) to `target`, unwatched.
async fn promote_to(
    pipeline: &Pipeline,
    target: &str,
    apps: &[&str],
) -> (promote::PromoteReport, Option<flow::Error>) {
    promote::run(pipeline, &options(target, apps, 0), &Silent).await
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_builds_both_then_each_promotion_moves_only_what_differs() {
    let Some((_cleanup, dir, mut pipeline, docker)) = setup("release").await else {
        return;
    };
    // ci makes dev as the local target made environments before `[local] prefix`: named
    // after the first app. The adoption below replaces it.
    let prefix = tests::local(&pipeline).prefix().to_owned();
    let former = format!("{prefix}-paktech-app");
    pipeline.target = Target::Local(LocalTarget::new(docker.clone(), &former));
    // ci: dev runs neither app yet, so both are built, and dev gets both in one commit.
    let ci_options = CiOptions {
        skip_tests: true,
        allow_dirty: true,
        ..CiOptions::new("ci".parse().expect("person"), "run-ci")
    };
    let (report, error) = ci::run(&pipeline, &ci_options, &Silent).await;
    assert!(error.is_none(), "ci failed: {error:?}");
    let built: Vec<&str> = report
        .apps
        .iter()
        .filter(|a| matches!(a.decision, BuildDecision::Build { .. }) && a.image.is_some())
        .map(|a| a.app.as_str())
        .collect();
    assert_eq!(built, APPS, "{:?}", report.apps);
    let message = last_commit(dir.path());
    assert_eq!(
        message.matches(keys::APP_BUILD).count(),
        2,
        "one commit for both: {message}"
    );
    assert_eq!(
        last_files(dir.path()),
        [
            "apps/paktech-app/dev/values.yaml",
            "apps/paktech-gateway/dev/values.yaml"
        ]
    );
    // The gateway reaches paktech-app by its name inside dev's network.
    let app_tag = report.apps[0]
        .image
        .as_ref()
        .expect("built")
        .tag
        .to_string();
    let answer = through_the_gateway(&pipeline, "dev").await;
    assert_eq!(
        answer["upstream"]["build_sha"],
        app_tag.as_str(),
        "{answer}"
    );

    // The next sync under the prefix adopts dev: every replica is replaced by one of the new
    // names on the new network, and through it all a gateway answers through to the app.
    pipeline.target = Target::Local(LocalTarget::new(docker.clone(), &prefix).adopting(&former));
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn(served_throughout(
        pipeline.target.clone(),
        app_tag.clone(),
        stopped,
    ));
    let lines = tests::Progress::default();
    let synced = sync::sync_env(&pipeline, pipeline.config.first(), None, &lines).await;
    let _ = stop.send(());
    let (rounds, unserved) = watcher.await.expect("watcher");
    synced.expect("the sync adopts dev");
    assert!(unserved.is_empty(), "{unserved:#?}\n{}", lines.all());
    assert!(rounds >= 5, "{rounds} round(s) of looking\n{}", lines.all());
    assert!(lines.all().contains("adopted "), "{}", lines.all());
    let names = tests::container_names(&docker, &prefix).await;
    assert_eq!(names.len(), 2, "{names:?}");
    for app in APPS {
        let ours = format!("{prefix}-{app}-dev-");
        assert!(names.iter().any(|n| n.starts_with(&ours)), "{names:?}");
    }
    let former_names = format!("{former}-paktech-");
    assert!(
        !names.iter().any(|n| n.starts_with(&former_names)),
        "{names:?}"
    );
    eprintln!("adopted dev: a gateway answered in each of {rounds} round(s): {names:?}");
    assert_eq!(
        tests::network_names(&docker, &prefix).await,
        [format!("{prefix}-dev")]
    );
    let answer = through_the_gateway(&pipeline, "dev").await;
    assert_eq!(
        answer["upstream"]["build_sha"],
        app_tag.as_str(),
        "{answer}"
    );

    // Builds that may be promoted (a dirty tree's ci builds cannot be): made-up commits of
    // both apps, recorded in dev as ci records them.
    let first_app = another_build(&pipeline, &docker, None).await;
    let first_gateway = faulty_free_gateway(&pipeline, &docker).await;
    pretend_they_ran(
        &pipeline,
        "dev",
        &[
            ("paktech-app", &first_app),
            ("paktech-gateway", &first_gateway),
        ],
    )
    .await;
    sync::sync_env(&pipeline, pipeline.config.first(), None, &Silent)
        .await
        .expect("dev runs them");

    // Staging: one release of both, one commit, the app first.
    let (staged, error) = promote_to(&pipeline, "staging", &[]).await;
    assert!(error.is_none(), "staging: {error:?}");
    let plan = staged.plan.as_ref().expect("plan");
    let moved: Vec<&str> = plan.apps.iter().map(|m| m.app.as_str()).collect();
    assert_eq!(moved, APPS);
    assert_eq!(staged.environments[0].outcome, StageOutcome::Promoted);
    assert_eq!(
        last_files(dir.path()),
        [
            "apps/paktech-app/staging/values.yaml",
            "apps/paktech-gateway/staging/values.yaml"
        ]
    );
    let deploy = staged
        .steps
        .iter()
        .find(|s| s.step == "deploy-staging")
        .expect("deploy step");
    let (app_at, gateway_at) = (
        deploy.detail.find("paktech-app:").expect("app deployed"),
        deploy
            .detail
            .find("paktech-gateway:")
            .expect("gateway deployed"),
    );
    assert!(app_at < gateway_at, "dependency first: {}", deploy.detail);

    // Prod: the release waits for one approval, bound to the release, then moves both.
    let (_, error) = promote_to(&pipeline, "prod", &[]).await;
    assert!(
        matches!(error, Some(flow::Error::AwaitingApproval { .. })),
        "{error:?}"
    );
    let release = release_id(&[
        (app("paktech-app"), first_app.clone()),
        (app("paktech-gateway"), first_gateway.clone()),
    ]);
    request_and_approve(&pipeline, "prod", &release, "alice", "bob").await;
    let (prod, error) = promote_to(&pipeline, "prod", &[]).await;
    assert!(error.is_none(), "prod: {error:?}");
    assert_eq!(prod.environments[0].approved_by[0].as_str(), "bob");
    let answer = through_the_gateway(&pipeline, "prod").await;
    assert_eq!(answer["build_sha"], first_gateway.as_str(), "{answer}");
    assert_eq!(
        answer["upstream"]["build_sha"],
        first_app.as_str(),
        "{answer}"
    );

    // Only paktech-app changes: only it moves, through staging and prod.
    let second_app = another_build(&pipeline, &docker, None).await;
    pretend_they_ran(&pipeline, "dev", &[("paktech-app", &second_app)]).await;
    let (staged, error) = promote_to(&pipeline, "staging", &[]).await;
    assert!(error.is_none(), "staging: {error:?}");
    let moved: Vec<&str> = staged
        .plan
        .as_ref()
        .expect("plan")
        .apps
        .iter()
        .map(|m| m.app.as_str())
        .collect();
    assert_eq!(moved, ["paktech-app"]);
    assert_eq!(
        last_files(dir.path()),
        ["apps/paktech-app/staging/values.yaml"]
    );
    request_and_approve(&pipeline, "prod", &second_app, "alice", "bob").await;
    let (prod, error) = promote_to(&pipeline, "prod", &[]).await;
    assert!(error.is_none(), "prod: {error:?}");
    let moved: Vec<&str> = prod
        .plan
        .as_ref()
        .expect("plan")
        .apps
        .iter()
        .map(|m| m.app.as_str())
        .collect();
    assert_eq!(moved, ["paktech-app"]);
    let answer = through_the_gateway(&pipeline, "prod").await;
    assert_eq!(answer["build_sha"], first_gateway.as_str(), "{answer}");
    assert_eq!(
        answer["upstream"]["build_sha"],
        second_app.as_str(),
        "{answer}"
    );
    // Nothing differs now: a release has nothing to move, and says so (exit 2).
    let (_, error) = promote_to(&pipeline, "prod", &[]).await;
    assert!(
        error
            .as_ref()
            .is_some_and(|e| e.to_string().contains("already runs what staging runs")),
        "{error:?}"
    );
}

/// Asks every published gateway replica of dev for `/`, which goes through to paktech-app,
/// each 50 ms until `stop` (or 3 minutes): the rounds, and those in which no replica answered
/// with `app_build` behind it.
async fn served_throughout(
    target: Target,
    app_build: String,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> (usize, Vec<String>) {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .expect("client");
    let (gateway, dev) = (app("paktech-gateway"), env("dev"));
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(180);
    let (mut rounds, mut unserved) = (0, Vec::new());
    while stop.try_recv().is_err() && tokio::time::Instant::now() < deadline {
        rounds += 1;
        let replicas = target.probe(&gateway, &dev).await.expect("probe");
        let mut answers = Vec::new();
        for (replica, _) in &replicas {
            let Some(url) = &replica.url else { continue };
            let answer = match client.get(format!("{url}/")).send().await {
                Ok(response) => response.json::<serde_json::Value>().await.ok(),
                Err(_) => None,
            };
            answers.push((replica.name.clone(), answer));
        }
        let served = answers.iter().any(|(_, a)| {
            a.as_ref()
                .is_some_and(|a| a["upstream"]["build_sha"] == app_build.as_str())
        });
        if !served {
            unserved.push(format!("round {rounds}: {answers:?}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    (rounds, unserved)
}

/// A build of the gateway under a made-up commit, from the workspace as it is.
async fn faulty_free_gateway(pipeline: &Pipeline, docker: &Docker) -> GitSha {
    let sha: GitSha = format!("{:040x}", rand::random::<u128>())
        .parse()
        .expect("sha");
    let _lock = tests::faulty::BuildLock::take().await;
    tests::build_sources_of(
        pipeline,
        docker,
        tests::workspace(),
        "paktech-gateway",
        &sha,
    )
    .await;
    sha
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_whose_dependent_app_fails_its_watch_is_rolled_back_whole() {
    let Some((_cleanup, _dir, mut pipeline, docker)) = setup("release-bad").await else {
        return;
    };
    // Prod's watch judges each app by the whole-flow tests' thresholds, under load.
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.analysis = Some(tests::test_analysis(
        policy::analysis::Inconclusive::Fail,
        Some(40.0),
    ));
    prod.monitor_interval = std::time::Duration::from_secs(2);
    prod.monitor_failures = 2;

    // Good builds of both run everywhere.
    let good_app = another_build(&pipeline, &docker, None).await;
    let good_gateway = faulty_free_gateway(&pipeline, &docker).await;
    let good = [
        ("paktech-app", &good_app),
        ("paktech-gateway", &good_gateway),
    ];
    for env_name in ["dev", "staging", "prod"] {
        pretend_they_ran(&pipeline, env_name, &good).await;
        let environment = pipeline.config.environment(env_name).expect("env").clone();
        sync::sync_env(&pipeline, &environment, None, &Silent)
            .await
            .expect("runs the good builds");
    }

    // The release: a new (good) app and a gateway whose `/` fails a fifth of its answers.
    let new_app = another_build(&pipeline, &docker, None).await;
    let bad_gateway =
        faulty_build_of(&pipeline, &docker, "paktech-gateway", Fault::FailingFifth).await;
    let release = [("paktech-app", &new_app), ("paktech-gateway", &bad_gateway)];
    pretend_they_ran(&pipeline, "staging", &release).await;
    let id = release_id(&[
        (app("paktech-app"), new_app.clone()),
        (app("paktech-gateway"), bad_gateway.clone()),
    ]);
    request_and_approve(&pipeline, "prod", &id, "alice", "bob").await;
    let (report, error) = promote::run(&pipeline, &options("prod", &[], 20), &Silent).await;
    for step in &report.steps {
        eprintln!("[{:?}] {}: {}", step.outcome, step.step, step.detail);
    }
    let error = error.expect("the gateway fails its watch");
    assert!(
        matches!(error, flow::Error::RolledBack { blocked: true, .. }),
        "{error}"
    );
    // Both apps are back on their previous builds in prod, the gateway rolled back first.
    let rollbacks: Vec<&str> = report
        .steps
        .iter()
        .filter(|s| s.step.starts_with("rollback-prod"))
        .map(|s| s.step.as_str())
        .collect();
    assert_eq!(
        rollbacks,
        ["rollback-prod-paktech-gateway", "rollback-prod-paktech-app"]
    );
    for (name, sha) in good {
        let probes = pipeline
            .target
            .probe(&app(name), &env("prod"))
            .await
            .expect("probe");
        assert!(
            !probes.is_empty() && probes.iter().all(|(_, p)| p.runs(sha.as_str())),
            "{name}: {probes:?}"
        );
    }
    // Only the gateway's build is blocked: the app's new build may go again.
    let records = pipeline.records().read().expect("records");
    assert!(
        records
            .block(&app("paktech-gateway"), &bad_gateway)
            .is_some()
    );
    assert!(records.block(&app("paktech-app"), &new_app).is_none());
    // bob's approval admitted that one release: taking it to prod again needs a new one.
    assert!(records.approvals_for(&env("prod"), &id).is_empty());
    assert_eq!(
        digest_of_app(&pipeline, "paktech-app", &new_app)
            .await
            .len(),
        71,
        "the app's build is still in the store"
    );
}
