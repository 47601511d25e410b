//! The promotion gates where they are decided at the moment of writing, without a Docker
//! engine: a stand-in registry answers the digest, and every case here is refused before the
//! target is touched (or, where the gate passes, the test stops at the write).
//! - The CI platform's reviews pass through the same approval rule as every other approval.
//! - The freeze is decided again right before the write: an approval that arrives after the
//!   window closed writes nothing, and is kept for the next try.

use std::sync::Arc;
use std::time::Duration;

use adapters::registry::{Distribution, Registry};
use flow::promote::{self, ApprovalMode, PlatformApprovals, PromoteOptions};
use flow::{self, Clock, Pipeline};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use model::report::Silent;
use model::{EnvName, GitSha};
use policy::plan::Refusal;
use tests::{Answer, env, pretend_it_ran};

const SHA: &str = "5555555555555555555555555555555555555555";
const DIGEST: &str = "sha256:5555555555555555555555555555555555555555555555555555555555555555";

/// A registry that has every image, under one digest (manifest HEAD and GET answer 200 with
/// `Docker-Content-Digest`, as the distribution API does).
async fn registry() -> u16 {
    tests::http_stand_in(|_| Answer {
        status: "200 OK",
        headers: vec![
            ("docker-content-digest", DIGEST.to_owned()),
            (
                "content-type",
                "application/vnd.oci.image.manifest.v1+json".to_owned(),
            ),
        ],
        body: String::new(),
    })
    .await
}

/// A pipeline whose registry is the stand-in and whose staging already ran SHA. The Docker
/// handle points nowhere: nothing here may reach a target.
async fn pipeline(dir: &std::path::Path, clock: Clock) -> Pipeline {
    let docker =
        bollard::Docker::connect_with_http("http://127.0.0.1:1", 5, bollard::API_DEFAULT_VERSION)
            .expect("a handle");
    let mut pipeline = tests::test_pipeline(dir, docker, &tests::unique_prefix("gates"));
    pipeline.config.apps[0].repository = format!("127.0.0.1:{}/paktech-app", registry().await)
        .parse()
        .expect("repository");
    pipeline.registry = Registry::Distribution(Distribution::new(None));
    pipeline.clock = clock;
    pretend_it_ran(&pipeline, "staging", &sha(), DIGEST);
    pipeline
}

fn sha() -> GitSha {
    SHA.parse().expect("sha")
}

fn options(approval: ApprovalMode) -> PromoteOptions {
    PromoteOptions {
        apps: Vec::new(),
        env: env("prod"),
        sha: Some(sha()),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: "gates".to_owned(),
        break_glass: None,
        approval,
        monitor: Some(Duration::ZERO),
    }
}

/// Reviews a CI platform reports, or its failure to report them.
#[derive(Debug)]
struct Reviews(Result<Vec<&'static str>, &'static str>);

impl PlatformApprovals for Reviews {
    fn approved(&self, _env: &EnvName) -> BoxFuture<'_, Result<Vec<String>, String>> {
        let answer = self
            .0
            .clone()
            .map(|logins| logins.into_iter().map(str::to_owned).collect())
            .map_err(str::to_owned);
        async move { answer }.boxed()
    }
}

fn refs(dir: &std::path::Path) -> String {
    tests::git_cli(&dir.join("gitops.git"), &["for-each-ref"])
}

#[tokio::test]
async fn the_platforms_reviews_pass_through_the_same_rule_and_fail_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut pipeline = pipeline(dir.path(), Clock::Fixed(tests::DAYTIME.parse().expect("t"))).await;
    let before = refs(dir.path());
    let platform = |reviews| ApprovalMode::Platform(Arc::new(Reviews(reviews)));

    // The requester approving their own run (in any spelling), nobody, or GitHub not
    // answering: refused, nothing written anywhere.
    for reviews in [
        Ok(vec!["alice"]),
        Ok(vec!["ALICE "]),
        Ok(vec![]),
        Err("401 Bad credentials"),
    ] {
        let (_, error) =
            promote::run(&pipeline, &options(platform(reviews.clone())), &Silent).await;
        let error = error.expect("refused");
        assert!(
            matches!(error, flow::Error::PlatformApproval { .. }),
            "{reviews:?}: {error}"
        );
        assert_eq!(refs(dir.path()), before, "{reviews:?}: nothing was written");
    }

    // Two distinct approvers needed: the same person twice is one.
    let prod = tests::env_mut(&mut pipeline, "prod");
    prod.approvals = 2;
    let (_, error) = promote::run(
        &pipeline,
        &options(platform(Ok(vec!["bob", "Bob"]))),
        &Silent,
    )
    .await;
    assert!(
        matches!(error, Some(flow::Error::PlatformApproval { .. })),
        "{error:?}"
    );
    assert_eq!(refs(dir.path()), before);

    // Somebody else approved: the gate passes, the approval is recorded and named in the
    // promotion commit (the rollout then fails here, having no engine to run on).
    let (report, _) = promote::run(
        &pipeline,
        &options(platform(Ok(vec!["bob", "carol"]))),
        &Silent,
    )
    .await;
    let gate = report
        .steps
        .iter()
        .find(|s| s.step == "gate-prod")
        .expect("gate step");
    assert!(gate.detail.contains("approved by bob, carol"), "{gate:?}");
    let trailers = tests::git_cli(
        &dir.path().join("gitops.git"),
        &["log", "-1", "--format=%(trailers)", "main"],
    );
    assert!(trailers.contains("Approved-By: bob, carol"), "{trailers}");
    let records = pipeline.records().read().expect("records");
    assert_eq!(records.approvals_for(&env("prod"), &sha()).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_that_arrives_after_the_freeze_began_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Clock::manual("2026-11-26T21:59:00Z".parse().expect("t"));
    let pipeline = Arc::new(pipeline(dir.path(), clock.clone()).await);
    let prod_values = pipeline.config.values_path(&tests::app(), &env("prod"));
    let values = || {
        tests::git_cli(
            &dir.path().join("gitops.git"),
            &["show", &format!("main:{prod_values}")],
        )
    };
    let before = values();

    // The promotion waits for an approval before 22:00; bob approves at 22:01.
    let approver = {
        let pipeline = Arc::clone(&pipeline);
        let clock = clock.clone();
        tokio::spawn(async move {
            for _ in 0..600 {
                let records = pipeline.records().read().expect("records");
                if records.request(&env("prod"), &sha()).is_some() {
                    clock.set("2026-11-26T22:01:00Z".parse().expect("t"));
                    flow::approve::approve(
                        &pipeline,
                        &env("prod"),
                        Some(&sha()),
                        &"bob".parse().expect("person"),
                        None,
                    )
                    .await
                    .expect("approve");
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the promotion never asked for an approval");
        })
    };
    let (report, error) = promote::run(&pipeline, &options(ApprovalMode::Wait), &Silent).await;
    approver.await.expect("approver");
    let error = error.expect("refused at the write");
    assert!(
        matches!(&error, flow::Error::Plan(Refusal::WindowClosed { opens_at, .. }) if opens_at == "2026-11-27T06:00:00+00:00"),
        "{error}"
    );
    assert!(
        report
            .steps
            .iter()
            .any(|s| s.step == "gate-prod" && s.detail.contains("approved by bob")),
        "the gate passed before 22:00: {:?}",
        report.steps
    );
    assert_eq!(values(), before, "prod's values were not written");
    let kept = pipeline.records().read().expect("records");
    assert_eq!(
        kept.approvals_for(&env("prod"), &sha()).len(),
        1,
        "the approval is kept for the next try"
    );

    // When the window opens, the kept approval lets the promotion write.
    clock.set("2026-11-27T06:01:00Z".parse().expect("t"));
    let (_, _) = promote::run(&pipeline, &options(ApprovalMode::NoWait), &Silent).await;
    assert!(
        values().contains(&format!("tag: \"{SHA}\"")),
        "{}",
        values()
    );
}

#[tokio::test]
async fn a_corrupt_block_refuses_instead_of_letting_the_build_through() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pipeline = pipeline(dir.path(), Clock::Fixed(tests::DAYTIME.parse().expect("t"))).await;
    pipeline
        .gitops
        .put_files(
            adapters::records::BRANCH,
            &[(
                format!("blocks/{SHA}.json"),
                Some("{\"sha\": \"55555".to_owned()),
            )],
            &model::audit::CommitMessage::new("a truncated block"),
        )
        .expect("write a corrupt record");
    let before = refs(dir.path());
    let (_, error) = promote::run(&pipeline, &options(ApprovalMode::NoWait), &Silent).await;
    let error = error.expect("refused");
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "the record blocks/{SHA}.json on the paktech-records branch"
        )),
        "{text}"
    );
    assert!(text.contains("Repair or remove it"), "{text}");
    assert_eq!(refs(dir.path()), before, "nothing was written");
}
