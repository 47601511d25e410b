//! Making an environment match the GitOps repository: read each app's desired state at a
//! revision (never from the pipeline's memory), converge the target app by app in
//! dependency order, and smoke-test what runs.

use std::time::Duration;

use super::{Error, Pipeline, Result};
use adapters::gitops::GitOpsRepo;
use adapters::target::{Convergence, SyncMode};
use config::{AppConfig, EnvironmentConfig};
use model::audit::{Action, keys};
use model::desired::DesiredState;
use model::report::Reporter;
use model::values::Document;
use model::{AppName, GitSha, Probe};
use policy::freeze::{Freeze, LastChange, freeze};
use policy::health::replica_problems;
use policy::window::{self, SyncPurpose, SyncWindow};

/// What one sync of one app did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    pub app: String,
    pub env: String,
    pub revision: GitSha,
    pub tag: Option<String>,
    pub convergence: Convergence,
}

/// The values file at `path` at `revision`.
pub fn values_in(repo: &GitOpsRepo, path: &str, revision: &GitSha) -> Result<Document> {
    let text = repo
        .read(revision, path)?
        .ok_or_else(|| adapters::gitops::Error::NotFound {
            path: path.to_owned(),
            revision: revision.to_string(),
        })?;
    Ok(Document::parse(path, text).map_err(model::desired::Error::from)?)
}

/// `app`'s values file for `env` at `revision`, read off the async executor.
pub async fn values(
    pipeline: &Pipeline,
    app: &AppName,
    env: &EnvironmentConfig,
    revision: &GitSha,
) -> Result<Document> {
    let path = pipeline.config.values_path(app, &env.name);
    let revision = revision.clone();
    pipeline
        .git(move |repo| values_in(repo, &path, &revision))
        .await
}

/// The desired state of `app` in `env` at `revision`.
pub async fn desired_state(
    pipeline: &Pipeline,
    app: &AppName,
    env: &EnvironmentConfig,
    revision: &GitSha,
) -> Result<DesiredState> {
    let doc = values(pipeline, app, env, revision).await?;
    Ok(DesiredState::from_values(app, &env.name, revision, &doc)?)
}

/// The sync windows at `revision` of every environment of `config`, read from each
/// environment's AppProject (`bootstrap/<env>/appproject.yaml`); none where there is none.
pub fn windows_in(
    repo: &GitOpsRepo,
    config: &config::PipelineConfig,
    revision: &GitSha,
) -> Result<Vec<SyncWindow>> {
    let mut windows = Vec::new();
    for env in &config.environments {
        let path = config::bootstrap::appproject_path(env.name.as_str());
        if let Some(text) = repo.read(revision, &path)? {
            let doc = Document::parse(path, text).map_err(model::desired::Error::from)?;
            windows.extend(window::windows_from_appproject(&doc)?);
        }
    }
    Ok(windows)
}

/// Where a pending rollout of `app` in `env` at `revision` stands against the sync windows:
/// the windows and the last change of its values file are read, `policy::freeze` decides.
async fn freeze_at(
    pipeline: &Pipeline,
    app: &AppName,
    env: &EnvironmentConfig,
    revision: &GitSha,
) -> Result<Freeze> {
    let path = pipeline.config.values_path(app, &env.name);
    let at = revision.clone();
    let config = pipeline.config.clone();
    let (windows, last) = pipeline
        .git(move |repo| {
            let windows = windows_in(repo, &config, &at)?;
            let last = repo.log(&at, Some(&path), 1)?;
            Ok::<_, Error>((windows, last))
        })
        .await?;
    let decision = window::decide(
        &windows,
        &pipeline.config.application(app, &env.name),
        &env.namespace,
        pipeline.clock.now(),
        SyncPurpose::Promotion,
    );
    let last = last
        .first()
        .map_or_else(LastChange::default, |c| LastChange {
            action: c.trailer(keys::ACTION).and_then(Action::parse),
            break_glass: c.trailer(keys::BREAK_GLASS).is_some(),
        });
    Ok(freeze(&decision, last))
}

/// Converges every app of `env` to the GitOps repository at `revision` (the remote's tip
/// when `None`), in dependency order.
pub async fn sync_env(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    revision: Option<&GitSha>,
    reporter: &dyn Reporter,
) -> Result<Vec<SyncReport>> {
    let revision = match revision {
        Some(r) => r.clone(),
        None => pipeline.git(|repo| repo.fetch()).await?,
    };
    let mut reports = Vec::new();
    for app in &pipeline.config.apps {
        reports.push(sync(pipeline, app, env, &revision, reporter).await?);
    }
    Ok(reports)
}

/// Converges `app` in `env` to the GitOps repository at `revision`.
pub async fn sync(
    pipeline: &Pipeline,
    app: &AppConfig,
    env: &EnvironmentConfig,
    revision: &GitSha,
    reporter: &dyn Reporter,
) -> Result<SyncReport> {
    let revision = revision.clone();
    let desired = desired_state(pipeline, &app.name, env, &revision).await?;
    let tag = desired.image.as_ref().map(|i| i.tag.to_string());
    let mode = match freeze_at(pipeline, &app.name, env, &revision).await? {
        Freeze::Open => SyncMode::Automatic,
        Freeze::Exempt => SyncMode::Explicit,
        Freeze::Closed(freeze) => {
            if pipeline.target.pending(&desired).await? {
                reporter.progress(
                    "sync",
                    format!(
                        "{} in {}: not rolling out inside the sync freeze ({freeze})",
                        app.name, env.name
                    ),
                );
                return Ok(SyncReport {
                    app: app.name.to_string(),
                    env: env.name.to_string(),
                    revision,
                    tag,
                    convergence: Convergence::default(),
                });
            }
            SyncMode::Automatic
        }
    };
    let convergence = pipeline
        .target
        .converge(
            &desired,
            env.sync_timeout,
            mode,
            policy::rollout::next_step,
            reporter,
        )
        .await?;
    Ok(SyncReport {
        app: app.name.to_string(),
        env: env.name.to_string(),
        revision,
        tag,
        convergence,
    })
}

/// What a deploy found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployed {
    pub revision: GitSha,
    pub convergence: Convergence,
    pub urls: Vec<String>,
}

/// Waits until `app` in `env` runs `build` as the GitOps repository's tip says it should:
/// holds the environment, converges the app to the tip (never to an older revision, so a
/// slower run cannot undo a newer change), and smoke-tests every replica. When the tip names
/// another build, this change was superseded and nothing is rolled out for it.
pub async fn deploy(
    pipeline: &Pipeline,
    app: &AppConfig,
    env: &EnvironmentConfig,
    build: &str,
    reporter: &dyn Reporter,
) -> Result<Deployed> {
    let _held = pipeline.target.lock(&env.name).await?;
    let tip = pipeline.git(|repo| repo.fetch()).await?;
    let desired = desired_state(pipeline, &app.name, env, &tip).await?;
    let wanted = desired
        .image
        .as_ref()
        .map(|i| i.tag.to_string())
        .unwrap_or_default();
    if wanted != build {
        return Err(Error::Superseded {
            app: app.name.to_string(),
            env: env.name.to_string(),
            build: build.to_owned(),
            now: wanted,
        });
    }
    let synced = sync(pipeline, app, env, &tip, reporter).await?;
    let probes = smoke(pipeline, &app.name, env, build, desired.replicas).await?;
    Ok(Deployed {
        revision: tip,
        convergence: synced.convergence,
        urls: probes.into_iter().map(|p| p.url).collect(),
    })
}

/// Every replica of `app` in `env` must answer `/health` 200 and report `build` on `/info`,
/// and there must be as many as the values ask for (`policy::health`, the rule monitoring
/// uses too).
pub async fn smoke(
    pipeline: &Pipeline,
    app: &AppName,
    env: &EnvironmentConfig,
    build: &str,
    replicas: u32,
) -> Result<Vec<Probe>> {
    let probes: Vec<Probe> = pipeline
        .target
        .probe(app, &env.name)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let problems = replica_problems(&probes, build, replicas);
    if problems.is_empty() {
        Ok(probes)
    } else {
        Err(Error::Smoke {
            app: app.to_string(),
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
            let round = async {
                let _held = pipeline.target.lock(&env.name).await?;
                sync_env(pipeline, env, None, reporter).await
            };
            match round.await {
                Ok(reports) => {
                    for report in reports.iter().filter(|r| r.convergence.changed()) {
                        reporter.progress(
                            "watch",
                            format!(
                                "{} in {}: repaired (started {}, removed {})",
                                report.app,
                                report.env,
                                report.convergence.started.len(),
                                report.convergence.removed.len()
                            ),
                        );
                    }
                }
                Err(err) => reporter.progress("watch", format!("{}: {err}", env.name)),
            }
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
