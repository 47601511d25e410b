//! The flows: the only place that composes steps. Each flow takes the [`Pipeline`] (the
//! adapters, built once by the command line) and a reporter, and returns a report.

pub mod ci;
pub mod image;
pub mod status;
pub mod steps;
pub mod sync;

use std::path::PathBuf;

use crate::adapters::gitops::{self, GitOpsRepo};
use crate::adapters::image::ImageBuilder;
use crate::adapters::notify::Slack;
use crate::adapters::target::local::{self, LocalTarget};
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
    pub target: LocalTarget,
    pub images: ImageBuilder,
    /// Set when `SLACK_WEBHOOK_URL` is, and the config allows Slack.
    pub slack: Option<Slack>,
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
    Target(#[from] local::Error),
    #[error(transparent)]
    Image(#[from] image::Error),
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
    #[error("smoke test of {env} failed: {problems}")]
    Smoke { env: String, problems: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
