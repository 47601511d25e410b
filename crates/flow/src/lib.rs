//! The flows: the only place that composes steps. Each flow takes the [`Pipeline`] (the
//! adapters, built once by the command line) and a reporter, and returns a report. Flows
//! decide nothing themselves: they gather facts, ask `policy`, and act on its answer
//! (`promote` and `rollback` plan first, then execute the plan).

pub mod approve;
pub mod attest;
pub mod ci;
pub mod history;
pub mod image;
pub mod promote;
pub mod rollback;
pub mod sbom;
pub mod scan;
pub mod snapshot;
pub mod status;
pub mod steps;
pub mod supply_chain;
pub mod sync;
pub mod verify;

use std::path::PathBuf;

use adapters::attachments::{self, Attachments};
use adapters::gitops::{self, GitOpsRepo};
use adapters::image::ImageBuilder;
use chrono::{DateTime, Utc};

use adapters::notify::Slack;
use adapters::records::Records;
use adapters::registry::{self, Registry};
use adapters::target::{self, Target};
use adapters::tools;
use config::{self, PipelineConfig};
use model::desired;

/// Everything a flow works with.
#[derive(Debug)]
pub struct Pipeline {
    /// The app repository's work tree.
    pub workspace: PathBuf,
    pub config: PipelineConfig,
    pub gitops: GitOpsRepo,
    pub target: Target,
    /// Builds images (a Docker engine). `None` on a machine without one: the cluster
    /// targets' commands (status, promote, rollback, approve) do not need it; `ci` does.
    pub images: Option<ImageBuilder>,
    /// Set when `SLACK_WEBHOOK_URL` is, and the config allows Slack.
    pub slack: Option<Slack>,
    /// Where promotions look images up.
    pub registry: Registry,
    /// Where images' SBOMs and signatures are kept (beside them in the registry, or in the
    /// state folder for the local engine's store).
    pub attachments: Attachments,
    pub clock: Clock,
    /// Signs what `ci` builds (`PAKTECH_SIGNING_KEY` or `PAKTECH_SIGNING_KEY_FILE`); `None`:
    /// builds go unsigned, and environments that require a signature refuse them.
    pub signing_key: Option<::supply_chain::cosign::SigningKey>,
}

/// The time policy decisions are taken at: the system's, a fixed one (tests stand at 23:00
/// UTC this way), or one a test moves while a flow runs (the freeze closing during an
/// approval wait).
#[derive(Debug, Clone)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
    Manual(std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::System => Utc::now(),
            Self::Fixed(t) => *t,
            Self::Manual(t) => *t.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// A clock that stands at `t` until [`Clock::set`] moves it.
    pub fn manual(t: DateTime<Utc>) -> Self {
        Self::Manual(std::sync::Arc::new(std::sync::Mutex::new(t)))
    }

    /// Moves a manual clock to `t` (other clocks do not move).
    pub fn set(&self, t: DateTime<Utc>) {
        if let Self::Manual(now) = self {
            *now.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = t;
        }
    }
}

impl Pipeline {
    /// The pipeline's signing key; without one, the step `step` is recorded as skipped and saying
    /// why (`sign` and `attest` alike).
    pub(crate) fn signing_key_or_skip(
        &self,
        step: &str,
        steps: &mut steps::Steps<'_>,
    ) -> Option<&::supply_chain::cosign::SigningKey> {
        if self.signing_key.is_none() {
            steps.skip(
                step,
                "skipped: no signing key (set PAKTECH_SIGNING_KEY or PAKTECH_SIGNING_KEY_FILE)",
            );
        }
        self.signing_key.as_ref()
    }

    /// The records kept beside the desired state (approvals, blocks).
    pub fn records(&self) -> Records<'_> {
        Records::new(&self.gitops)
    }

    /// The image builder, or the error saying `command` needs one.
    pub fn images(&self, command: &'static str) -> Result<&ImageBuilder> {
        self.images
            .as_ref()
            .ok_or(Error::NoImageBuilder { command })
    }

    /// Runs `work` on the GitOps repository off the async executor: git2 calls, the mirror's
    /// lock wait and push back-off sleeps block their thread, so they get one of tokio's
    /// blocking threads instead of stalling every task on this one.
    pub async fn git<T, E>(
        &self,
        work: impl FnOnce(&GitOpsRepo) -> Result<T, E> + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
        E: Into<Error> + Send + 'static,
    {
        let repo = self.gitops.clone();
        match tokio::task::spawn_blocking(move || work(&repo)).await {
            Ok(result) => result.map_err(Into::into),
            Err(joined) => Err(Error::Interrupted(joined.to_string())),
        }
    }

    /// Posts to Slack when it is configured; a failure is logged and otherwise ignored.
    pub async fn notify(&self, notice: &adapters::notify::Notice) -> Option<String> {
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
    Values(#[from] model::values::Error),
    #[error(transparent)]
    Target(#[from] target::Error),
    #[error(transparent)]
    Image(#[from] image::Error),
    #[error(transparent)]
    Push(#[from] adapters::image::Error),
    #[error(transparent)]
    Tools(#[from] tools::Error),
    #[error(transparent)]
    Scan(#[from] model::scan::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot attest {what}: {problem}")]
    Attestation { what: &'static str, problem: String },
    #[error("blocked by the scan policy: {reason}")]
    ScanPolicy { reason: String },
    #[error(transparent)]
    Vex(#[from] ::supply_chain::vex::Refusal),
    #[error(
        "{app} in {env} was changed again meanwhile: it now asks for {now:?}, not {build}; nothing was rolled out for {build}"
    )]
    Superseded {
        app: String,
        env: String,
        build: String,
        now: String,
    },
    #[error("smoke test of {app} in {env} failed: {problems}")]
    Smoke {
        app: String,
        env: String,
        problems: String,
    },
    #[error(
        "the previous build in {env} could not be measured to compare with ({why}); nothing was written"
    )]
    Baseline { env: String, why: String },
    #[error(transparent)]
    Registry(#[from] registry::Error),
    #[error(transparent)]
    Attachments(#[from] attachments::Error),
    #[error(transparent)]
    Sbom(#[from] ::supply_chain::sbom::Error),
    #[error(
        "no SBOM is stored for {image} ({digest}); `cargo xtask ci` makes one for every build it ships, so rebuild it with the current pipeline"
    )]
    NoSbom { image: String, digest: String },
    #[error(
        "{app} runs no build in {env} yet; deploy one with `cargo xtask ci` or `cargo xtask promote --env {env}`"
    )]
    NoBuild { app: String, env: String },
    #[error(transparent)]
    Window(#[from] policy::window::InvalidWindow),
    #[error(transparent)]
    Records(#[from] adapters::records::Error),
    #[error(transparent)]
    Plan(#[from] policy::plan::Refusal),
    #[error(transparent)]
    Rollback(#[from] policy::revert::Refused),
    /// No request to approve: none asked, none waits, or the commit named is ambiguous.
    #[error(transparent)]
    NoRequest(#[from] policy::approval::choice::NoChoice),
    #[error(transparent)]
    Invalid(#[from] model::InvalidValue),
    #[error("the CI platform's approval of {env} does not pass: {why}; nothing was written")]
    PlatformApproval { env: String, why: String },
    #[error(
        "{command} builds images and needs a Docker engine, which this machine does not reach (DOCKER_HOST or /var/run/docker.sock)"
    )]
    NoImageBuilder { command: &'static str },
    #[error("a blocking task was interrupted: {0}")]
    Interrupted(String),
    #[error(
        "{what} awaits approval for {env}: {have} of {need} given; may approve: {may_approve}. Run `cargo xtask approve --env {env} --sha {sha}` as one of them"
    )]
    AwaitingApproval {
        env: String,
        /// What is approved: the build, or `release <id> (app@sha, …)`.
        what: String,
        sha: String,
        have: usize,
        need: u32,
        may_approve: String,
    },
    #[error(transparent)]
    Refused(#[from] policy::approval::Refusal),
    #[error(
        "{env} failed while watched ({problems}); {}",
        rollback::done(env, sha, rolled_back_to, *blocked)
    )]
    RolledBack {
        env: String,
        sha: String,
        problems: String,
        /// Empty: the environment had no build before this one.
        rolled_back_to: String,
        /// Whether the build was blocked (the watch showed it bad) or not (it could not be
        /// judged).
        blocked: bool,
    },
    #[error(
        "{env} runs an unverified build of {app}, {sha}: it failed while watched ({problems}), and the rollback could not be done ({why}); roll back by hand: `cargo xtask rollback --env {env} --app {app} --if-running {sha} --reason \"{}\"`, then check with `cargo xtask status` (docs/operations.md, \"prod runs an unverified build\")",
        automatic_reason(problems)
    )]
    Unverified {
        env: String,
        app: String,
        sha: String,
        problems: String,
        why: String,
    },
}

/// What an automatic rollback records as its reason for `problems`, safe to quote in a
/// suggested shell command (no quotes, backticks, `$` or backslashes).
pub fn automatic_reason(problems: &str) -> String {
    model::Reason::summarise(&format!("automatic: {problems}"))
        .as_str()
        .replace(['"', '`', '$', '\\'], "'")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
