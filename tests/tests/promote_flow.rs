//! Promotion end to end on the real Docker engine and a real bare GitOps repository:
//! ci → staging → approval → prod, a bad release rolled back automatically, a rollback that
//! survives unrelated commits, and the sync window.

use bollard::Docker;
use flow::promote::StageOutcome;
use flow::promote::{self, ApprovalMode, PromoteOptions};
use flow::rollback::{self, RollbackOptions};
use flow::{self, Clock, Pipeline, approve, history, status};
use model::audit::keys;
use model::report::Silent;
use model::{Approval, GitSha};
use policy::plan::Refusal;
use tests::{another_build, deploy_dev, digest_of, env, pretend_it_ran};

fn options(target: &str, sha: &GitSha, who: &str) -> PromoteOptions {
    PromoteOptions {
        apps: Vec::new(),
        env: env(target),
        sha: Some(sha.clone()),
        dry_run: false,
        requested_by: who.parse().expect("person"),
        run_id: "run-2".to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(std::time::Duration::ZERO),
    }
}

async fn promote(
    pipeline: &Pipeline,
    options: &PromoteOptions,
) -> Result<promote::PromoteReport, flow::Error> {
    let (report, error) = promote::run(pipeline, options, &Silent).await;
    match error {
        None => Ok(report),
        Some(e) => Err(e),
    }
}

/// A test pipeline, and the guard that removes its containers however the test ends.
async fn setup(test: &str) -> Option<(tests::Cleanup, tempfile::TempDir, Pipeline, Docker)> {
    let docker = tests::docker_or_skip(test).await?;
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = tests::unique_prefix(test);
    let pipeline = tests::test_pipeline(dir.path(), docker.clone(), &prefix);
    Some((tests::Cleanup::new(&prefix), dir, pipeline, docker))
}

#[tokio::test(flavor = "multi_thread")]
async fn ci_staging_approval_prod_then_status_and_history() {
    let Some((_cleanup, _dir, pipeline, docker)) = setup("promote").await else {
        return;
    };
    let sha = deploy_dev(&pipeline, &docker).await;

    let staged = promote(&pipeline, &options("staging", &sha, "alice"))
        .await
        .expect("staging");
    assert_eq!(staged.environments[0].outcome, StageOutcome::Promoted);

    // Prod waits for an approval by someone else, for this SHA and this environment.
    let err = promote(&pipeline, &options("prod", &sha, "alice"))
        .await
        .expect_err("needs approval");
    assert!(matches!(err, flow::Error::AwaitingApproval { .. }), "{err}");
    let person = |name: &str| name.parse().expect("person");
    let err = approve::approve(&pipeline, &env("prod"), Some(&sha), &person("alice"), None)
        .await
        .expect_err("self-approval");
    assert_eq!(
        err.to_string(),
        "alice requested this promotion and cannot approve it; someone else must"
    );
    // Approving what nobody asked for is refused; such records, written by hand, do not count.
    let other: GitSha = "f".repeat(40).parse().expect("sha");
    let err = approve::approve(&pipeline, &env("prod"), Some(&other), &person("bob"), None)
        .await
        .expect_err("another build was never requested");
    assert!(
        matches!(
            err,
            flow::Error::NoRequest(policy::approval::choice::NoChoice::NotRequested { .. })
        ),
        "{err}"
    );
    for (e, s) in [("prod", &other), ("staging", &sha)] {
        pipeline
            .records()
            .add_approval(&Approval {
                sha: s.clone(),
                env: env(e),
                approver: person("bob"),
                at: tests::DAYTIME.parse().expect("time"),
                comment: None,
            })
            .expect("a record written by hand");
    }
    let err = promote(&pipeline, &options("prod", &sha, "alice"))
        .await
        .expect_err("those do not count");
    assert!(matches!(err, flow::Error::AwaitingApproval { .. }), "{err}");

    // The dry run shows the plan and writes nothing.
    let remote = _dir.path().join("gitops.git");
    let refs_before = tests::git_cli(&remote, &["for-each-ref"]);
    let mut dry = options("prod", &sha, "alice");
    dry.dry_run = true;
    let plan = promote(&pipeline, &dry).await.expect("dry run");
    assert_eq!(plan.environments[0].outcome, StageOutcome::Planned);
    assert!(
        plan.environments[0]
            .diff
            .iter()
            .any(|l| l.starts_with('+') && l.contains(sha.as_str())),
        "{plan:?}"
    );
    assert_eq!(tests::git_cli(&remote, &["for-each-ref"]), refs_before);

    // At a terminal, the person there is asked; bob says yes.
    let mut asked = options("prod", &sha, "alice");
    asked.approval = ApprovalMode::Prompt(std::sync::Arc::new(|question: String| {
        assert!(
            question.contains("may approve: anyone but alice"),
            "{question}"
        );
        Some("bob".to_owned())
    }));
    let prod = promote(&pipeline, &asked).await.expect("prod");
    assert_eq!(prod.environments[0].approved_by, vec![person("bob")]);

    let (_, envs) = status::status(&pipeline, &[]).await.expect("status");
    for e in &envs {
        assert_eq!(e.desired_sha, sha.as_str(), "{}", e.env);
        assert_eq!(e.running_shas, vec![sha.to_string()], "{}", e.env);
        assert_eq!(e.ready as u32, e.desired_replicas, "{}", e.env);
    }
    let events = history::history(&pipeline, Some("prod"), &[], 50)
        .await
        .expect("history");
    let promoted = events
        .iter()
        .find(|e| e.action == "promote")
        .expect("a promotion");
    assert!(promoted.detail.contains("Approved-By: bob"), "{promoted:?}");
    assert!(
        events
            .iter()
            .any(|e| e.action == "approve" && e.by == "bob" && e.sha == sha.as_str())
    );

    // Promoting the same build again changes nothing.
    let again = promote(&pipeline, &options("prod", &sha, "alice"))
        .await
        .expect("idempotent");
    assert_eq!(again.environments[0].outcome, StageOutcome::Unchanged);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_release_is_rolled_back_blocked_and_refused_until_unblocked() {
    let Some((_cleanup, _dir, mut pipeline, docker)) = setup("badrel").await else {
        return;
    };
    // A release that cannot start is this test's bad build: the rollout and the health
    // watch judge it. The metric analysis (and the window it needs) has its own tests.
    tests::env_mut(&mut pipeline, "prod").analysis = None;
    let good = deploy_dev(&pipeline, &docker).await;
    let good_digest = digest_of(&pipeline, &good).await;
    pretend_it_ran(&pipeline, "staging", &good, &good_digest);
    tests::request_and_approve(&pipeline, "prod", &good, "alice", "bob").await;
    promote(&pipeline, &options("prod", &good, "alice"))
        .await
        .expect("good prod");

    let bad = another_build(&pipeline, &docker, Some(&good)).await;
    let bad_digest = digest_of(&pipeline, &bad).await;
    pretend_it_ran(&pipeline, "staging", &bad, &bad_digest);
    tests::request_and_approve(&pipeline, "prod", &bad, "alice", "bob").await;
    let mut watched = options("prod", &bad, "alice");
    watched.monitor = Some(std::time::Duration::from_secs(2));
    let (report, error) = promote::run(&pipeline, &watched, &Silent).await;
    let error = error.expect("the bad release fails");
    assert!(matches!(error, flow::Error::RolledBack { .. }), "{error}");
    let rolled = report.rollback.expect("a rollback");
    assert_eq!(rolled.to_sha, good.as_str());
    // bob's approval admitted one promotion, the one rolled back: it is gone.
    assert_eq!(
        rolled.revoked.as_deref(),
        Some(
            format!(
                "revoked the approvals of {bad} in prod (by bob): promoting it there again needs new ones"
            )
            .as_str()
        )
    );
    let records = pipeline.records().read().expect("records");
    assert!(records.approvals_for(&env("prod"), &bad).is_empty());
    assert_eq!(records.approvals_for(&env("prod"), &good).len(), 1);

    let (_, envs) = status::status(&pipeline, &[]).await.expect("status");
    let prod = envs.iter().find(|e| e.env == "prod").expect("prod");
    assert_eq!(prod.desired_sha, good.as_str());
    assert_eq!(prod.running_shas, vec![good.to_string()]);
    assert_eq!(prod.ready, 3);

    let err = promote(&pipeline, &options("prod", &bad, "alice"))
        .await
        .expect_err("blocked");
    assert!(
        matches!(err, flow::Error::Plan(Refusal::Blocked { .. })),
        "{err}"
    );
    // alice asked for the promotion: she cannot lift the block herself.
    let (app, reason) = (tests::app(), "fixed upstream".parse().expect("reason"));
    let (alice, carol) = (
        "alice".parse().expect("person"),
        "carol".parse().expect("person"),
    );
    let err = approve::unblock(&pipeline, &app, &bad, &alice, &reason)
        .await
        .expect_err("the requester");
    assert!(
        matches!(
            err,
            flow::Error::Refused(policy::approval::Refusal::RequesterUnblock { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("someone else must"), "{err}");
    approve::unblock(&pipeline, &app, &bad, &carol, &reason)
        .await
        .expect("unblock");
    // No longer blocked, but bob's old approval no longer admits it: it waits for a new one.
    let err = promote(&pipeline, &options("prod", &bad, "alice"))
        .await
        .expect_err("awaiting a new approval");
    assert!(matches!(err, flow::Error::AwaitingApproval { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_reverts_only_the_promotion_even_after_unrelated_commits_and_passes_the_freeze() {
    let Some((_cleanup, dir, mut pipeline, docker)) = setup("rollbk").await else {
        return;
    };
    let first = deploy_dev(&pipeline, &docker).await;
    let second = another_build(&pipeline, &docker, None).await;
    for sha in [&first, &second] {
        let digest = digest_of(&pipeline, sha).await;
        pretend_it_ran(&pipeline, "staging", sha, &digest);
        tests::request_and_approve(&pipeline, "prod", sha, "alice", "bob").await;
        promote(&pipeline, &options("prod", sha, "alice"))
            .await
            .expect("prod");
    }

    // Unrelated commits land after the promotion: another key of prod's file, another file.
    let remote = dir.path().join("gitops.git");
    let prod_path = pipeline.config.values_path(&tests::app(), &env("prod"));
    let text = tests::git_cli(&remote, &["show", &format!("main:{prod_path}")]);
    tests::commit_by_hand(
        &remote,
        &prod_path,
        &text.replace("maxReplicas: 10", "maxReplicas: 12"),
        "prod: allow 12",
    );
    let staging_path = pipeline.config.values_path(&tests::app(), &env("staging"));
    let text = tests::git_cli(&remote, &["show", &format!("main:{staging_path}")]);
    tests::commit_by_hand(
        &remote,
        &staging_path,
        &text.replace("LOG_LEVEL: \"info\"", "LOG_LEVEL: \"debug\""),
        "staging: debug",
    );

    // At 23:00 UTC prod is frozen for promotions, but not for rollbacks.
    pipeline.clock = Clock::Fixed("2026-11-26T23:00:00Z".parse().expect("time"));
    let third = another_build(&pipeline, &docker, None).await;
    let digest = digest_of(&pipeline, &third).await;
    pretend_it_ran(&pipeline, "staging", &third, &digest);
    tests::request_and_approve(&pipeline, "prod", &third, "alice", "bob").await;
    let err = promote(&pipeline, &options("prod", &third, "alice"))
        .await
        .expect_err("frozen");
    assert!(
        matches!(err, flow::Error::Plan(Refusal::WindowClosed { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("until 2026-11-27T06:00:00+00:00"),
        "{err}"
    );

    let staging_before = tests::git_cli(&remote, &["show", &format!("main:{staging_path}")]);
    let rolled = rollback::rollback(
        &pipeline,
        &RollbackOptions {
            app: tests::app(),
            env: env("prod"),
            to: None,
            reason: "latency regression".parse().expect("reason"),
            requested_by: "carol".parse().expect("person"),
            run_id: "run-3".to_owned(),
            if_running: None,
            dry_run: false,
            analysis: None,
            verdict: None,
        },
        &Silent,
    )
    .await
    .expect("rollback passes the freeze");
    assert_eq!(
        (rolled.from_sha.as_str(), rolled.to_sha.as_str()),
        (second.as_str(), first.as_str())
    );

    let prod_now = tests::git_cli(&remote, &["show", &format!("main:{prod_path}")]);
    assert!(
        prod_now.contains(&format!("tag: \"{first}\"")),
        "{prod_now}"
    );
    assert!(
        prod_now.contains("maxReplicas: 12"),
        "the unrelated change stays:\n{prod_now}"
    );
    assert_eq!(
        tests::git_cli(&remote, &["show", &format!("main:{staging_path}")]),
        staging_before,
        "only prod's file changed"
    );
    let trailers = tests::git_cli(&remote, &["log", "-1", "--format=%(trailers)", "main"]);
    assert!(
        trailers.contains("Pipeline-Action: rollback")
            && trailers.contains(&format!("Blocked-Sha: {second}")),
        "{trailers}"
    );
    assert!(
        trailers.contains("Reverts: ") && trailers.contains("Reason: latency regression"),
        "{trailers}"
    );
    let probes = pipeline
        .target
        .probe(&tests::app(), &env("prod"))
        .await
        .expect("probe");
    assert!(
        probes.iter().all(|(_, p)| p.runs(first.as_str())),
        "{probes:?}"
    );

    // Break-glass passes the freeze and is recorded.
    let mut urgent = options("prod", &third, "alice");
    urgent.break_glass = Some("security fix".parse().expect("reason"));
    promote(&pipeline, &urgent).await.expect("break-glass");
    let trailers = tests::git_cli(&remote, &["log", "-1", "--format=%(trailers)", "main"]);
    assert!(trailers.contains("Break-Glass: security fix"), "{trailers}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_promotions_of_different_builds_at_once_lose_nothing() {
    let Some((_cleanup, _dir, pipeline, docker)) = setup("race").await else {
        return;
    };
    let a = deploy_dev(&pipeline, &docker).await;
    let b = another_build(&pipeline, &docker, None).await;
    for sha in [&a, &b] {
        let digest = digest_of(&pipeline, sha).await;
        pretend_it_ran(&pipeline, "dev", sha, &digest);
    }
    let (oa, ob) = (
        options("staging", &a, "alice"),
        options("staging", &b, "bob"),
    );
    let (ra, rb) = tokio::join!(promote(&pipeline, &oa), promote(&pipeline, &ob));
    // Serialized by the mirror lock: both may land one after the other, or the second sees
    // that staging moved since it planned and is refused; never an interleaved write.
    assert!(ra.is_ok() || rb.is_ok(), "{ra:?} {rb:?}");
    for r in [&ra, &rb] {
        if let Err(e) = r {
            assert!(matches!(e, flow::Error::GitOps(_)), "{e}");
        }
    }
    let tip = pipeline.gitops.fetch().expect("fetch");
    let log = pipeline.gitops.log(&tip, None, 100).expect("log");
    let promotions: Vec<_> = log
        .iter()
        .filter(|c| c.subject.starts_with("chore(staging): promote"))
        .collect();
    assert_eq!(
        promotions.len(),
        [&ra, &rb].iter().filter(|r| r.is_ok()).count()
    );
    let staging = pipeline
        .gitops
        .read(
            &tip,
            &pipeline.config.values_path(&tests::app(), &env("staging")),
        )
        .expect("read")
        .expect("file");
    let winner =
        if rb.is_ok() && (ra.is_err() || log[0].trailer(keys::IMAGE_SHA) == Some(b.as_str())) {
            &b
        } else {
            &a
        };
    assert!(staging.contains(&format!("tag: \"{winner}\"")), "{staging}");
}

/// Approving the request a user means, under a fixed clock (`PAKTECH_NOW`, as in tests and
/// rehearsals), where every request is asked at one instant: a release approved before (it went
/// to prod and was rolled back) and a new release waiting. `approve` without a SHA takes the
/// one waiting, not the older one; the commit the new release's builds were made from names
/// it; a commit in two waiting releases is refused, naming both.
#[tokio::test]
async fn approve_takes_the_waiting_release_under_a_fixed_clock_or_the_one_a_commit_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let docker = bollard::Docker::connect_with_defaults().expect("a docker client value");
    let pipeline = tests::test_pipeline_of(
        dir.path(),
        docker,
        &tests::unique_prefix("approve-pick"),
        &["paktech-app", "paktech-gateway"],
    );
    let person = |name: &str| -> model::Person { name.parse().expect("person") };
    let sha = |c: char| -> GitSha { c.to_string().repeat(40).parse().expect("sha") };
    let request = |id: char, builds: &[(&str, char)]| model::PromotionRequest {
        sha: sha(id),
        env: env("prod"),
        requester: person("alice"),
        at: tests::DAYTIME.parse().expect("time"),
        run_id: format!("run-{id}"),
        builds: builds
            .iter()
            .map(|(app, commit)| format!("{app}@{}", sha(*commit)))
            .collect(),
    };
    let records = pipeline.records();
    records
        .add_request(&request(
            '1',
            &[("paktech-app", 'a'), ("paktech-gateway", 'a')],
        ))
        .expect("the old release's request");
    let old = approve::approve(
        &pipeline,
        &env("prod"),
        Some(&sha('1')),
        &person("bob"),
        None,
    )
    .await
    .expect("the old release approved");
    assert_eq!(old.request.sha, sha('1'));
    records
        .add_request(&request(
            '2',
            &[("paktech-app", 'c'), ("paktech-gateway", 'c')],
        ))
        .expect("the new release's request");

    let waiting = approve::approve(&pipeline, &env("prod"), None, &person("bob"), None)
        .await
        .expect("approve what waits");
    assert_eq!(
        waiting.request.sha,
        sha('2'),
        "the waiting release, not the older one"
    );
    let err = approve::approve(&pipeline, &env("prod"), None, &person("carol"), None)
        .await
        .expect_err("nothing waits any more");
    assert!(
        err.to_string()
            .starts_with("every request to promote to prod already has its approvals"),
        "{err}"
    );

    // By the commit its builds were made from.
    let by_commit = approve::approve(
        &pipeline,
        &env("prod"),
        Some(&sha('c')),
        &person("carol"),
        None,
    )
    .await
    .expect("approve by commit");
    assert_eq!(by_commit.request.sha, sha('2'));
    records
        .add_request(&request(
            '3',
            &[("paktech-app", 'e'), ("paktech-gateway", 'e')],
        ))
        .expect("a third release");
    records
        .add_request(&request(
            '4',
            &[("paktech-app", 'e'), ("paktech-gateway", 'f')],
        ))
        .expect("a fourth, sharing a build");
    let err = approve::approve(
        &pipeline,
        &env("prod"),
        Some(&sha('e')),
        &person("bob"),
        None,
    )
    .await
    .expect_err("two waiting releases are made of builds of e");
    let said = err.to_string();
    assert!(
        said.contains(sha('3').as_str()) && said.contains(sha('4').as_str()),
        "{said}"
    );
    assert!(
        matches!(
            err,
            flow::Error::NoRequest(policy::approval::choice::NoChoice::Ambiguous { count: 2, .. })
        ),
        "{said}"
    );
    // Nothing was written by the refusals: the fourth still waits for its first approval.
    let set = records.read().expect("records");
    assert!(set.approvals_for(&env("prod"), &sha('4')).is_empty());
    assert!(set.approvals_for(&env("prod"), &sha('3')).is_empty());
}
