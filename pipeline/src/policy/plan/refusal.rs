//! Why a promotion is refused before anything is written (exit 2 or 3, see the README).

/// Why a promotion is refused before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{env} is the first environment: builds reach it through `cargo xtask ci`, not promote"
    )]
    NotPromotable { env: String },
    #[error("{env} runs no build yet; promote needs --sha or a build running there")]
    NothingToPromote { env: String },
    #[error("{image} is not in the registry; build and push it first (`cargo xtask ci`)")]
    ImageNotFound { image: String },
    #[error(
        "{sha} is blocked since {at} by {by}: {reason}; lift it with `cargo xtask unblock --sha {sha} --reason TEXT`"
    )]
    Blocked {
        sha: String,
        by: String,
        at: String,
        reason: String,
    },
    #[error(
        "{sha} never ran in {env}; promote it there first (`cargo xtask promote --env {env} --sha {sha}`)"
    )]
    NotInPrevious { sha: String, env: String },
    #[error("{env} needs scan evidence for {sha}: {reason}")]
    ScanEvidence {
        env: String,
        sha: String,
        reason: String,
    },
    #[error(
        "{env} is in a sync freeze ({by}) until {opens_at}; wait, or pass --break-glass --reason TEXT"
    )]
    WindowClosed {
        env: String,
        by: String,
        opens_at: String,
    },
    #[error(
        "{env} has a canary (`canary` in pipeline.toml), but on the {target} target Argo CD rolls out, not the pipeline: a canary there is Argo Rollouts' job (docs/operations.md, \"Canary\"); or remove `canary` from {env}'s settings"
    )]
    CanaryUnsupported { env: String, target: String },
}
