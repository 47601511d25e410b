//! `promote` killed with SIGKILL at each step boundary and as prod's watch begins, then run
//! again: it finishes the job, and the GitOps log has no duplicate commit.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use flow::promote::{self, ApprovalMode, PromoteOptions};
use model::report::Silent;
use tests::{deploy_dev, env};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_promotion_finishes_when_run_again_without_duplicate_commits() {
    let Some(docker) = tests::docker_or_skip("kill").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix("kill");
    let _cleanup = tests::Cleanup::new(&prefix);
    let pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    let sha = deploy_dev(&pipeline, &docker).await;
    let staging = PromoteOptions {
        apps: Vec::new(),
        env: env("staging"),
        sha: Some(sha.clone()),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: "run-1".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(Duration::ZERO),
    };
    let (_, error) = promote::run(&pipeline, &staging, &Silent).await;
    assert!(error.is_none(), "{error:?}");
    tests::request_and_approve(&pipeline, "prod", &sha, "alice", "bob").await;

    let remote = dir.path().join("gitops.git");
    let state = dir.path().join("state");
    let config = tests::config_without_supply_chain(dir.path());
    let xtask = |monitor: &str| {
        let mut command = Command::new(XTASK);
        command
            .args([
                "promote",
                "--env",
                "prod",
                "--sha",
                sha.as_str(),
                "--as",
                "alice",
                "--monitor",
                monitor,
            ])
            .env("PAKTECH_GITOPS_URL", &remote)
            .env("PAKTECH_CONFIG", &config)
            .env("PAKTECH_NOW", tests::DAYTIME)
            .env("PAKTECH_STATE_DIR", &state)
            .env("PAKTECH_TARGET_PREFIX", &prefix)
            .stdin(Stdio::null());
        command
    };
    let prod_commits = || {
        tests::git_cli(&remote, &["log", "--format=%s", "main"])
            .lines()
            .filter(|s| s.starts_with("chore(prod): promote"))
            .count()
    };

    // Killed at each step boundary in turn: every re-run picks up where the last one died.
    for step in ["plan", "gate-prod", "write-prod", "deploy-prod"] {
        let out = xtask("0s")
            .env("PAKTECH_KILL_AFTER_STEP", step)
            .output()
            .expect("run");
        assert_eq!(
            out.status.signal(),
            Some(9),
            "{step}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(prod_commits() <= 1, "after the kill at {step}");
    }
    assert_eq!(
        prod_commits(),
        1,
        "the write-prod kill left exactly one commit"
    );

    // Killed while monitoring, on the event it means: prod's first monitoring round reported,
    // then the process dies without a chance to clean up.
    let out = xtask("10m")
        .env("PAKTECH_KILL_AT", "progress:monitor-prod")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(9), "{stderr}");
    assert!(
        stderr.contains("[monitor-prod] round 1: healthy"),
        "{stderr}"
    );
    assert_eq!(prod_commits(), 1, "monitoring writes nothing");

    let again = xtask("0s").output().expect("run again");
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(prod_commits(), 1, "no duplicate commit");
    let probes = pipeline
        .target
        .probe(&tests::app(), &env("prod"))
        .await
        .expect("probe");
    assert_eq!(probes.len(), 3);
    assert!(
        probes.iter().all(|(_, p)| p.runs(sha.as_str())),
        "{probes:?}"
    );
    tests::git_cli(&remote, &["fsck", "--strict"]);
}
