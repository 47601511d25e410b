//! `promote --approval github`: the run's environment reviews, read from GitHub's REST API
//! (`adapters::github`), are the approvals the gate judges: the same rule as every other
//! approval (never the requester, the allow-list, N distinct), failing closed when GitHub
//! cannot be read.

use adapters::github::{self, GitHubRun};
use flow::promote::{ApprovalMode, PlatformApprovals};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use model::{EnvName, Person};

/// The run's reviews, as the gate asks for them.
#[derive(Debug)]
struct Reviews(GitHubRun);

impl PlatformApprovals for Reviews {
    fn approved(&self, env: &EnvName) -> BoxFuture<'_, Result<Vec<String>, String>> {
        let env = env.to_string();
        async move {
            let reviews = self.0.approvals().await.map_err(|e| e.to_string())?;
            Ok(github::approved_for(&reviews, &env)
                .map(str::to_owned)
                .collect())
        }
        .boxed()
    }
}

/// The approval mode for a job gated by GitHub's required reviewers, and who started the run
/// (the requester). The run's variables (`GITHUB_API_URL`, `GITHUB_REPOSITORY`,
/// `GITHUB_RUN_ID`, `GITHUB_RUN_ATTEMPT`, `GITHUB_TOKEN`, `GITHUB_TRIGGERING_ACTOR`) are
/// checked now, before anything is touched; a re-run (attempt 2 or later) is refused.
pub fn approval_mode() -> anyhow::Result<(ApprovalMode, Person)> {
    let usage = |e: String| context::errors::Usage(format!("--approval github: {e}"));
    let run = GitHubRun::from_env().map_err(|e| match e {
        // Not a bad argument: the approvals of this run cannot be trusted (exit 3).
        github::Error::ReRun { .. } => anyhow::Error::new(e).context("--approval github"),
        e => usage(e.to_string()).into(),
    })?;
    let requester: Person = run
        .requester()
        .parse()
        .map_err(|e: model::InvalidValue| usage(e.to_string()))?;
    Ok((
        ApprovalMode::Platform(std::sync::Arc::new(Reviews(run))),
        requester,
    ))
}
