//! `promote --approval github`: the run's environment reviews, read from GitHub's REST API,
//! are the approvals the gate judges.

use pipeline::flow::promote::ApprovalMode;

/// The approval mode for a job gated by GitHub's required reviewers.
pub fn approval_mode() -> anyhow::Result<ApprovalMode> {
    Err(crate::exit::Usage(
        "--approval github: reading the run's reviews from GitHub is not available in this build"
            .to_owned(),
    )
    .into())
}
