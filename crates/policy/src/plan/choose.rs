//! Which builds a promotion moves, through which environments: per app, in dependency order,
//! from the environment before the target.

use std::time::Duration;

use super::{Refusal, Snapshot};
use config::PipelineConfig;
use model::{AppName, EnvName, GitSha, Person, Reason};

/// What was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub env: EnvName,
    /// The apps to move; empty: every app whose build differs from the previous environment.
    pub apps: Vec<AppName>,
    /// Default: the build the previous environment runs (of each app).
    pub sha: Option<GitSha>,
    pub requested_by: Person,
    /// Set: pass a closed sync window, recording this reason.
    pub break_glass: Option<Reason>,
    /// Overrides the environments' monitoring duration.
    pub monitor: Option<Duration>,
}

/// One app's build to promote and the environments it walks, target last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub app: AppName,
    pub sha: GitSha,
    pub chain: Vec<EnvName>,
    /// The environment before the first of the chain: where the build must have run.
    pub source: EnvName,
}

/// Which builds, through which environments: for each app asked for (every app when none
/// was named), in dependency order, the build the previous environment runs (or `--sha`),
/// and before the target every environment (after the first) that does not run it yet. A
/// release of every app leaves out the apps whose build the target already runs, and apps
/// the previous environment never ran; with `--sha`, it moves the apps that commit built
/// (whose build of it runs up to the target). An app named with `--app` is always planned.
pub fn choose(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    request: &Request,
) -> Result<Vec<Choice>, Refusal> {
    let Some(previous) = config.previous(&request.env) else {
        return Err(Refusal::NotPromotable {
            env: request.env.to_string(),
        });
    };
    let named = !request.apps.is_empty() || config.apps.len() == 1;
    // Several apps and a commit: the apps that commit built, wherever up to the target their
    // build of it runs (a monorepo's commit rebuilds only what it touched; a re-run after a
    // write that landed finds the target at it and finishes the rollout); when it built
    // none of them, every app, so each app's checks say precisely why not.
    let built_by = |app: &AppName, sha: &GitSha| {
        config
            .environments
            .iter()
            .take(config.position(&request.env).map_or(0, |i| i + 1))
            .any(|e| snapshot.tag(app, &e.name) == sha.as_str())
    };
    let commit_built_some = request
        .sha
        .as_ref()
        .is_some_and(|sha| config.apps.iter().any(|a| built_by(&a.name, sha)));
    let mut choices = Vec::new();
    for app in &config.apps {
        if !request.apps.is_empty() && !request.apps.contains(&app.name) {
            continue;
        }
        let app = &app.name;
        let sha = match &request.sha {
            // Several apps and a commit: the apps that commit built, wherever before the
            // target their build of it runs (a monorepo's commit rebuilds only what it touched).
            Some(sha) if !named && commit_built_some && !built_by(app, sha) => continue,
            Some(sha) => sha.clone(),
            None => match snapshot.tag(app, &previous.name).parse() {
                Ok(sha) => sha,
                Err(_) if named => {
                    return Err(Refusal::NothingToPromote {
                        app: app.to_string(),
                        env: previous.name.to_string(),
                    });
                }
                Err(_) => continue,
            },
        };
        if !named && request.sha.is_none() && snapshot.tag(app, &request.env) == sha.as_str() {
            continue;
        }
        let mut chain = vec![request.env.clone()];
        while let Some(before) = config.previous(&chain[0]) {
            if config.previous(&before.name).is_none()
                || snapshot.tag(app, &before.name) == sha.as_str()
            {
                break;
            }
            chain.insert(0, before.name.clone());
        }
        let source = config
            .previous(&chain[0])
            .map(|p| p.name.clone())
            .unwrap_or_else(|| previous.name.clone());
        choices.push(Choice {
            app: app.clone(),
            sha,
            chain,
            source,
        });
    }
    if choices.is_empty() {
        return Err(Refusal::UpToDate {
            env: request.env.to_string(),
            from: previous.name.to_string(),
        });
    }
    Ok(choices)
}
