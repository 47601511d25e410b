//! A promotion requested and approved by someone else, as the approve flow records it, for tests that start past the gate.

use super::*;

/// Records that `requester` asked to promote `sha` to `env_name` (as `promote` does when it
/// reaches the approval gate) and that `approver` approved it through `approve`.
pub async fn request_and_approve(
    pipeline: &Pipeline,
    env_name: &str,
    sha: &GitSha,
    requester: &str,
    approver: &str,
) {
    pipeline
        .records()
        .add_request(&model::PromotionRequest {
            builds: Vec::new(),
            sha: sha.clone(),
            env: env(env_name),
            requester: requester.parse().expect("requester"),
            at: DAYTIME.parse().expect("time"),
            run_id: "run-request".to_owned(),
        })
        .expect("request");
    flow::approve::approve(
        pipeline,
        &env(env_name),
        Some(sha),
        &approver.parse().expect("approver"),
        None,
    )
    .await
    .expect("approve");
}

/// Puts `sha` through staging (as if promoted there) and prod's approval (alice asks, bob
/// approves), then promotes it to prod as alice, watched for `monitor`; prints the steps as a
/// person running `promote` reads them.
pub async fn approved_to_prod(
    pipeline: &Pipeline,
    sha: &GitSha,
    monitor: std::time::Duration,
    run_id: &str,
    reporter: &dyn model::report::Reporter,
) -> (flow::promote::PromoteReport, Option<flow::Error>) {
    use flow::promote::{self, ApprovalMode, PromoteOptions};
    let digest = digest_of(pipeline, sha).await;
    pretend_it_ran(pipeline, "staging", sha, &digest);
    request_and_approve(pipeline, "prod", sha, "alice", "bob").await;
    let options = PromoteOptions {
        env: env("prod"),
        apps: Vec::new(),
        sha: Some(sha.clone()),
        dry_run: false,
        requested_by: "alice".parse().expect("person"),
        run_id: run_id.to_owned(),
        break_glass: None,
        approval: ApprovalMode::NoWait,
        monitor: Some(monitor),
    };
    let (report, error) = promote::run(pipeline, &options, reporter).await;
    for step in &report.steps {
        eprintln!("[{:?}] {}: {}", step.outcome, step.step, step.detail);
    }
    if let Some(error) = &error {
        eprintln!("error: {error}");
    }
    (report, error)
}
