//! The flows: the only place that composes steps. Each flow takes the [`Pipeline`] (the
//! adapters, built once by the command line) and a reporter, and returns a report.

pub mod approve;
pub mod ci;
pub mod history;
pub mod image;
pub mod promote;
pub mod rollback;
pub mod status;
pub mod steps;
pub mod sync;

use std::path::PathBuf;

use crate::adapters::gitops::{self, GitOpsRepo};
use crate::adapters::image::ImageBuilder;
use chrono::{DateTime, Utc};

use crate::adapters::notify::Slack;
use crate::adapters::records::Records;
use crate::adapters::registry::{self, Registry};
use crate::adapters::target::{self, Target};
use crate::adapters::tools;
use crate::config::{self, PipelineConfig};
use crate::{desired, scan};

/// Everything a flow works with.
#[derive(Debug)]
pub struct Pipeline {
    /// The app repository's work tree.
    pub workspace: PathBuf,
    pub config: PipelineConfig,
    pub gitops: GitOpsRepo,
    pub target: Target,
    pub images: ImageBuilder,
    /// Set when `SLACK_WEBHOOK_URL` is, and the config allows Slack.
    pub slack: Option<Slack>,
    /// Where promotions look images up.
    pub registry: Registry,
    pub clock: Clock,
}

/// The time policy decisions are taken at: the system's, or a fixed one (tests stand at
/// 23:00 UTC this way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn now(self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(t) => t,
        }
    }
}

impl Pipeline {
    /// The records kept beside the desired state (approvals, blocks).
    pub fn records(&self) -> Records<'_> {
        Records::new(&self.gitops)
    }

    /// Posts to Slack when it is configured; a failure is logged and otherwise ignored.
    pub async fn notify(&self, notice: &crate::adapters::notify::Notice) -> Option<String> {
        let slack = self.slack.as_ref()?;
        match slack.post(notice).await {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(%e, "slack notification not delivered");
                Some(e.to_string())
            }
        }
    }
}

/// Why a flow stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] config::Error),
    #[error(transparent)]
    GitOps(#[from] gitops::Error),
    #[error(transparent)]
    Desired(#[from] desired::Error),
    #[error(transparent)]
    Values(#[from] crate::values::Error),
    #[error(transparent)]
    Target(#[from] target::Error),
    #[error(transparent)]
    Image(#[from] image::Error),
    #[error(transparent)]
    Push(#[from] crate::adapters::image::Error),
    #[error(transparent)]
    Tools(#[from] tools::Error),
    #[error(transparent)]
    Scan(#[from] scan::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("blocked by the scan policy: {reason}")]
    ScanPolicy { reason: String },
    #[error(
        "{env} was changed again meanwhile: it now asks for {now:?}, not {build}; nothing was rolled out for {build}"
    )]
    Superseded {
        env: String,
        build: String,
        now: String,
    },
    #[error("smoke test of {env} failed: {problems}")]
    Smoke { env: String, problems: String },
    #[error(transparent)]
    Registry(#[from] registry::Error),
    #[error(transparent)]
    Window(#[from] crate::policy::window::InvalidWindow),
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
    #[error("{env} needs scan evidence: {reason}")]
    ScanEvidence { env: String, reason: String },
    #[error(
        "{env} is in a sync freeze ({by}) until {opens_at}; wait, or pass --break-glass --reason TEXT"
    )]
    WindowClosed {
        env: String,
        by: String,
        opens_at: String,
    },
    #[error(
        "{sha} awaits approval for {env}: {have} of {need} given; may approve: {may_approve}. Run `cargo xtask approve --env {env} --sha {sha}` as one of them"
    )]
    AwaitingApproval {
        env: String,
        sha: String,
        have: usize,
        need: u32,
        may_approve: String,
    },
    #[error(transparent)]
    Refused(#[from] crate::policy::approval::Refusal),
    #[error(
        "{env} went unhealthy while monitored ({problems}); rolled back to {rolled_back_to} and blocked {sha}"
    )]
    RolledBack {
        env: String,
        sha: String,
        problems: String,
        rolled_back_to: String,
    },
    #[error("{env} has nothing to roll back: {why}")]
    NothingToRollBack { env: String, why: String },
    #[error(transparent)]
    Revert(#[from] crate::policy::revert::RevertConflict),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
