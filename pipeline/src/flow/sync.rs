//! Making an environment match the GitOps repository: read the desired state at a revision
//! (never from the pipeline's memory), converge the target, and smoke-test what runs.

use std::time::Duration;

use super::{Error, Pipeline, Result};
use crate::adapters::probe::Probe;
use crate::adapters::target::local::Convergence;
use crate::config::EnvironmentConfig;
use crate::desired::DesiredState;
use crate::model::GitSha;
use crate::report::Reporter;
use crate::values::Document;

/// What one sync did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    pub env: String,
    pub revision: GitSha,
    pub tag: Option<String>,
    pub convergence: Convergence,
}

/// The desired state of `env` at `revision`.
pub fn desired_state(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    revision: &GitSha,
) -> Result<DesiredState> {
    let path = pipeline.config.values_path(&env.name);
    let text = pipeline.gitops.read(revision, &path)?.ok_or_else(|| {
        crate::adapters::gitops::Error::NotFound {
            path: path.clone(),
            revision: revision.to_string(),
        }
    })?;
    let doc = Document::parse(path, text).map_err(crate::desired::Error::from)?;
    Ok(DesiredState::from_values(&env.name, revision, &doc)?)
}

/// Converges `env` to the GitOps repository at `revision` (the remote's tip when `None`).
pub async fn sync(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    revision: Option<&GitSha>,
    reporter: &dyn Reporter,
) -> Result<SyncReport> {
    let revision = match revision {
        Some(r) => r.clone(),
        None => pipeline.gitops.fetch()?,
    };
    let desired = desired_state(pipeline, env, &revision)?;
    let convergence = pipeline
        .target
        .converge(&desired, env.sync_timeout, reporter)
        .await?;
    Ok(SyncReport {
        env: env.name.to_string(),
        revision,
        tag: desired.image.as_ref().map(|i| i.tag.to_string()),
        convergence,
    })
}

/// Every replica of `env` must answer `/health` 200 and report `build` on `/info`, and there
/// must be as many as the values ask for.
pub async fn smoke(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    build: &str,
    replicas: u32,
) -> Result<Vec<Probe>> {
    let probes: Vec<Probe> = pipeline
        .target
        .probe(&env.name)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut problems: Vec<String> = probes
        .iter()
        .filter(|p| !p.runs(build))
        .map(|p| match (&p.problem, &p.build_sha) {
            (Some(problem), _) => format!("{}: {problem}", p.url),
            (None, found) => format!(
                "{}: reports build {}, expected {build}",
                p.url,
                found.as_deref().unwrap_or("none")
            ),
        })
        .collect();
    if probes.len() != replicas as usize {
        problems.push(format!(
            "{} replicas answer, the values ask for {replicas}",
            probes.len()
        ));
    }
    if problems.is_empty() {
        Ok(probes)
    } else {
        Err(Error::Smoke {
            env: env.name.to_string(),
            problems: problems.join("; "),
        })
    }
}

/// Keeps converging `envs` to the remote's tip every `interval` until `stop` resolves,
/// repairing drift (a replica stopped or removed by hand comes back). A failed round is
/// reported and retried next round.
pub async fn watch(
    pipeline: &Pipeline,
    envs: &[&EnvironmentConfig],
    interval: Duration,
    stop: impl std::future::Future<Output = ()>,
    reporter: &dyn Reporter,
) {
    tokio::pin!(stop);
    loop {
        for env in envs {
            match sync(pipeline, env, None, reporter).await {
                Ok(report) if report.convergence.changed() => reporter.progress(
                    "watch",
                    format!(
                        "{}: repaired (started {}, removed {})",
                        report.env,
                        report.convergence.started.len(),
                        report.convergence.removed.len()
                    ),
                ),
                Ok(_) => {}
                Err(err) => reporter.progress("watch", format!("{}: {err}", env.name)),
            }
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
