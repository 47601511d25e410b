//! Faults, each with its clear error or designed recovery, and the GitOps repository holding
//! only complete commits afterwards.

use std::time::Duration;

use adapters::gitops::{Change, Error as GitOpsError, GitOpsRepo, Written};
use adapters::registry::{Distribution, Registry};
use flow::promote::{self, ApprovalMode, PromoteOptions};
use model::audit::CommitMessage;
use model::report::Silent;
use model::values::Scalar;
use tests::{another_build, deploy_dev, digest_of, env, pretend_it_ran};

const DEV: &str = "apps/paktech-app/dev/values.yaml";

fn change(value: &str) -> Change {
    Change::one(
        DEV,
        vec![("image.tag".to_owned(), Scalar::str(value))],
        None,
        CommitMessage::new(format!("chore(dev): set {value}")),
    )
}

#[test]
fn a_remote_rejecting_pushes_for_a_while_is_retried_then_given_up_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = tests::seeded_remote(dir.path());
    let lock = remote.join("refs/heads/main.lock");

    // The branch is locked (another writer holds it) for a while: the write retries and lands.
    std::fs::write(&lock, "").expect("lock");
    let unlock = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            std::fs::remove_file(lock).expect("unlock");
        })
    };
    let repo = GitOpsRepo::open(tests::gitops_settings(&remote), &dir.path().join("mirror"))
        .expect("open");
    let written = repo
        .write(&change("0123456789abcdef0123456789abcdef01234567"))
        .expect("lands after retries");
    unlock.join().expect("unlock thread");
    let Written::Committed { attempts, .. } = written else {
        panic!("{written:?}")
    };
    assert!(attempts > 1, "it had to retry");

    // Locked for good: a bounded number of attempts, then a clear error, and nothing written.
    std::fs::write(&lock, "").expect("lock");
    let before = tests::git_cli(&remote, &["rev-parse", "main"]);
    let mut settings = tests::gitops_settings(&remote);
    settings.push_attempts = 3;
    let repo = GitOpsRepo::open(settings, &dir.path().join("mirror2")).expect("open");
    let err = repo
        .write(&change("fedcba9876543210fedcba9876543210fedcba98"))
        .expect_err("gives up");
    assert!(
        matches!(err, GitOpsError::Contended { attempts: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("nothing was written"), "{err}");
    std::fs::remove_file(&lock).expect("unlock");
    assert_eq!(tests::git_cli(&remote, &["rev-parse", "main"]), before);
    tests::git_cli(&remote, &["fsck", "--strict"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_registry_stops_promote_before_any_write() {
    let Some(docker) = tests::docker_or_skip("faults-registry").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pipeline = tests::test_pipeline(dir.path(), docker, &tests::unique_prefix("regfail"));
    let port = tests::failing_http_server().await;
    let remote = dir.path().join("gitops.git");
    let before = tests::git_cli(&remote, &["for-each-ref"]);
    for registry in [format!("127.0.0.1:{port}"), "127.0.0.1:1".to_owned()] {
        pipeline.config.apps[0].repository = format!("{registry}/paktech-app")
            .parse()
            .expect("repository");
        pipeline.registry = Registry::Distribution(Distribution::new(None));
        let options = PromoteOptions {
            apps: Vec::new(),
            env: env("staging"),
            sha: Some(
                "0123456789abcdef0123456789abcdef01234567"
                    .parse()
                    .expect("sha"),
            ),
            dry_run: false,
            requested_by: "alice".parse().expect("person"),
            run_id: "run".to_owned(),
            break_glass: None,
            approval: ApprovalMode::NoWait,
            monitor: Some(Duration::ZERO),
        };
        let (report, error) = promote::run(&pipeline, &options, &Silent).await;
        let error = error.expect("refused");
        assert!(matches!(error, flow::Error::Registry(_)), "{error}");
        assert!(error.to_string().contains(&registry), "{error}");
        assert!(report.environments.is_empty());
    }
    assert_eq!(
        tests::git_cli(&remote, &["for-each-ref"]),
        before,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prod_replica_killed_while_monitored_triggers_the_rollback() {
    let Some(docker) = tests::docker_or_skip("faults-kill-replica").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("monkill");
    let _cleanup = tests::Cleanup::new(&prefix);
    let mut pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.monitor_interval = Duration::from_millis(500);
    prod.monitor_failures = 2;

    let first = deploy_dev(&pipeline, &docker).await;
    let second = another_build(&pipeline, &docker, None).await;
    let options = |sha: &model::GitSha, monitor: u64| PromoteOptions {
        apps: Vec::new(),
        env: env("prod"),
        sha: Some(sha.clone()),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: "run".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(Duration::from_secs(monitor)),
    };
    for sha in [&first, &second] {
        let digest = digest_of(&pipeline, sha).await;
        pretend_it_ran(&pipeline, "staging", sha, &digest);
        tests::request_and_approve(&pipeline, "prod", sha, "alice", "bob").await;
        if sha == &first {
            let (_, error) = promote::run(&pipeline, &options(&first, 0), &Silent).await;
            assert!(error.is_none(), "{error:?}");
        }
    }

    // Promote the second build with a watch, and kill one of its replicas the moment prod's
    // watch begins (the event the fault is meant for, not a guessed moment).
    let (reporter, monitoring) = tests::OnStart::new("monitor-prod");
    let killer = async {
        if monitoring.await.is_err() {
            return false;
        }
        let probes = pipeline
            .target
            .probe(&tests::app(), &env("prod"))
            .await
            .expect("probe");
        assert_eq!(probes.len(), 3, "{probes:?}");
        assert!(
            probes.iter().all(|(_, p)| p.runs(second.as_str())),
            "{probes:?}"
        );
        docker
            .kill_container(
                &probes[0].0.name,
                None::<bollard::query_parameters::KillContainerOptions>,
            )
            .await
            .expect("kill");
        true
    };
    let watched = options(&second, 20);
    let ((report, error), killed) =
        tokio::join!(promote::run(&pipeline, &watched, &reporter), killer);
    assert!(
        killed,
        "prod's watch of the second build never began: {error:?} {report:#?}"
    );
    let error = error.expect("rolled back");
    assert!(matches!(error, flow::Error::RolledBack { .. }), "{error}");
    assert_eq!(report.rollback.expect("rollback").to_sha, first.as_str());
    let probes = pipeline
        .target
        .probe(&tests::app(), &env("prod"))
        .await
        .expect("probe");
    assert!(
        probes
            .iter()
            .filter(|(_, p)| p.runs(first.as_str()))
            .count()
            >= 3,
        "{probes:?}"
    );
    tests::git_cli(&dir.path().join("gitops.git"), &["fsck", "--strict"]);
}
