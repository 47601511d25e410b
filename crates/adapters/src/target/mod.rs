//! Targets make an environment match a GitOps revision and report what runs there.
//! `local`: Docker containers on this machine, converged by the pipeline itself.
//! `kube`: a Kubernetes cluster where Argo CD converges and the pipeline asks, watches and
//! verifies. The flows see one interface, [`Target`].

pub mod kube;
pub mod local;

use std::time::Duration;

use model::desired::DesiredState;
use model::report::Reporter;
use model::{AppName, EnvName, RolloutRule};
use model::{MetricsSnapshot, Probe};

pub use self::kube::KubeTarget;
pub use self::local::LocalTarget;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Local(#[from] local::Error),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One replica as the target sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Replica {
    pub name: String,
    /// The build the replica was started from (its image tag), from the target's records.
    pub tag: String,
    /// The GitOps revision the replica was started for.
    pub revision: String,
    pub running: bool,
    pub restarts: i64,
    /// Where to reach it, when it is published.
    pub url: Option<String>,
    /// Whether the replica matches the desired spec it was compared with.
    pub spec_matches: bool,
}

/// What a convergence did: the replicas that appeared and those that went away.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Convergence {
    pub started: Vec<String>,
    pub removed: Vec<String>,
}

impl Convergence {
    pub fn changed(&self) -> bool {
        !self.started.is_empty() || !self.removed.is_empty()
    }

    /// The difference between the replica names seen before and after a rollout.
    pub fn between(before: &[String], after: &[String]) -> Self {
        Self {
            started: after
                .iter()
                .filter(|n| !before.contains(n))
                .cloned()
                .collect(),
            removed: before
                .iter()
                .filter(|n| !after.contains(n))
                .cloned()
                .collect(),
        }
    }
}

/// How a rollout is set off. Argo CD refuses automated syncs inside a deny window but lets a
/// manual one through (`manualSync: true`), so a rollback there must be an explicit sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The target's own reconciliation picks the change up.
    Automatic,
    /// The pipeline starts the sync itself.
    Explicit,
}

/// An environment held for a rollout; released when dropped.
#[derive(Debug)]
pub struct EnvLock {
    _file: std::fs::File,
}

/// Holds `env` for one rollout: pipeline runs on this machine converge one environment one
/// at a time (an OS file lock, so separate processes queue too).
async fn lock(app: &str, env: &EnvName) -> Result<EnvLock> {
    let path = std::env::temp_dir().join(format!("paktech-{app}-{env}.lock"));
    let file = crate::lockfile::open(&path).map_err(|source| Error::Lock {
        path: path.clone(),
        source,
    })?;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(EnvLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(Error::Lock { path, source });
            }
        }
    }
}

/// Where environments run.
#[derive(Debug, Clone)]
pub enum Target {
    Local(LocalTarget),
    Kube(KubeTarget),
}

impl Target {
    /// `local` or `kube`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Kube(_) => "kube",
        }
    }

    /// Which kind this is, for a plan (a canary needs a target the pipeline rolls out).
    pub fn target_kind(&self) -> model::TargetKind {
        match self {
            Self::Local(_) => model::TargetKind::Local,
            Self::Kube(_) => model::TargetKind::Kube,
        }
    }

    /// The local target, when this is one (tests and benches tear environments down).
    pub fn as_local(&self) -> Option<&LocalTarget> {
        match self {
            Self::Local(local) => Some(local),
            Self::Kube(_) => None,
        }
    }

    /// Holds `env`, every app of it, for one rollout (see [`EnvLock`]).
    pub async fn lock(&self, env: &EnvName) -> Result<EnvLock> {
        match self {
            Self::Local(local) => lock(local.prefix(), env).await,
            Self::Kube(kube) => lock(kube.app(), env).await,
        }
    }

    /// Whether `desired` differs from what runs, so converging would roll something out.
    pub async fn pending(&self, desired: &DesiredState) -> Result<bool> {
        Ok(match self {
            Self::Local(local) => local.pending(desired).await?,
            Self::Kube(kube) => kube.for_app(&desired.app).pending(desired).await?,
        })
    }

    /// Makes `desired.env` run `desired`, within `timeout`. A target that rolls out itself
    /// (the local one) takes each step `rule` names; Argo CD follows its own.
    pub async fn converge(
        &self,
        desired: &DesiredState,
        timeout: Duration,
        mode: SyncMode,
        rule: RolloutRule,
        reporter: &dyn Reporter,
    ) -> Result<Convergence> {
        Ok(match self {
            // The pipeline is the local target's syncer: every convergence is explicit.
            Self::Local(local) => local.converge(desired, timeout, rule, reporter).await?,
            Self::Kube(kube) => {
                kube.for_app(&desired.app)
                    .converge(desired, timeout, mode, reporter)
                    .await?
            }
        })
    }

    /// Probes every replica of `app` in `env` (`/health` and `/info`).
    pub async fn probe(&self, app: &AppName, env: &EnvName) -> Result<Vec<(Replica, Probe)>> {
        Ok(match self {
            Self::Local(local) => local.probe(app, env).await?,
            Self::Kube(kube) => kube.for_app(app).probe(env).await?,
        })
    }

    /// How synthetic load reaches a replica: HTTP to its published port, or the pod proxy.
    pub fn load_sender(&self) -> crate::load::Sender {
        match self {
            Self::Local(_) => crate::load::over_http(),
            Self::Kube(kube) => kube.load_sender(),
        }
    }

    /// Reads `/metrics` of every replica of `app` in `env` (what analysis judges).
    pub async fn metrics(&self, app: &AppName, env: &EnvName) -> Result<MetricsSnapshot> {
        Ok(match self {
            Self::Local(local) => local.metrics(app, env).await?,
            Self::Kube(kube) => kube.for_app(app).metrics(env).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convergence_between_names_what_came_and_went() {
        let before = vec!["a".to_owned(), "b".to_owned()];
        let after = vec!["b".to_owned(), "c".to_owned()];
        let done = Convergence::between(&before, &after);
        assert_eq!(done.started, vec!["c".to_owned()]);
        assert_eq!(done.removed, vec!["a".to_owned()]);
        assert!(done.changed());
        assert!(!Convergence::between(&after, &after).changed());
    }
}
