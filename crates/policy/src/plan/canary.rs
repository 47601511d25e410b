//! The canary step of a stage: where an environment asks for one (`canary` in
//! `pipeline.toml`), one replica of the build starts beside the old ones and is judged against
//! them for a window before the rest rolls out. Only a target the pipeline rolls out itself
//! (the local one) can do that; on a cluster Argo CD rolls out, and a canary there is Argo
//! Rollouts' job. A configured canary the target cannot run refuses the plan: a safety step
//! is never skipped silently.

use std::time::Duration;

use super::{AnalysisStep, Refusal, duration_text, sizing};
use config::EnvironmentConfig;
use model::TargetKind;

/// One replica of the new build beside all the old ones, compared with them for `window`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CanaryStep {
    #[serde(serialize_with = "duration_text")]
    pub window: Duration,
    /// The evidence each side gets (half the load each); `None` without thresholds (the
    /// configuration refuses that).
    pub analysis: Option<AnalysisStep>,
}

/// The canary step of `env` on `target`: none when not configured, refused where the target
/// cannot run one.
pub(super) fn step(
    env: &EnvironmentConfig,
    target: TargetKind,
) -> Result<Option<CanaryStep>, Refusal> {
    let Some(window) = env.canary else {
        return Ok(None);
    };
    match target {
        TargetKind::Local => {
            // Each side (the canary, the old replicas) gets half the load, and needs the
            // minimum on its own.
            let analysis = match &env.analysis {
                Some(config) => Some(sizing::size(
                    &env.name, config, window, target, 2, "canary",
                )?),
                None => None,
            };
            Ok(Some(CanaryStep { window, analysis }))
        }
        TargetKind::Kube => Err(Refusal::CanaryUnsupported {
            env: env.name.to_string(),
            target: "kube".to_owned(),
        }),
    }
}
