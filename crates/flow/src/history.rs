//! `cargo xtask history`: promotions, deploys, rollbacks, approvals and blocks, read back from
//! the GitOps log and the records branch.

use super::{Pipeline, Result};
use adapters::gitops::GitOpsRepo;
use adapters::records::{RECORD_ACTION, Records};
use config::PipelineConfig;
use model::AppName;
use model::audit::keys;

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEvent {
    pub time: String,
    /// The app, where several are configured (a one-app configuration's JSON is as it was).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    pub action: String,
    pub env: String,
    pub sha: String,
    pub by: String,
    pub detail: String,
    pub revision: String,
}

/// Every event, newest first, optionally for one environment and some apps (read off the
/// executor). A release's commit is an event of each app it moved.
pub async fn history(
    pipeline: &Pipeline,
    env: Option<&str>,
    apps: &[AppName],
    limit: usize,
) -> Result<Vec<HistoryEvent>> {
    let config = pipeline.config.clone();
    let env = env.map(str::to_owned);
    let apps = apps.to_vec();
    pipeline
        .git(move |repo| read(repo, &config, env.as_deref(), &apps, limit))
        .await
}

fn read(
    repo: &GitOpsRepo,
    config: &PipelineConfig,
    env: Option<&str>,
    only: &[AppName],
    limit: usize,
) -> Result<Vec<HistoryEvent>> {
    let tip = repo.fetch()?;
    let several = config.apps.len() > 1;
    let mut events = Vec::new();
    let pairs = config
        .apps
        .iter()
        .filter(|a| only.is_empty() || only.contains(&a.name))
        .flat_map(|a| config.environments.iter().map(move |e| (a, e)))
        .filter(|(_, e)| env.is_none_or(|n| e.name.as_str() == n));
    for (app, e) in pairs {
        for c in repo.log(&tip, Some(&config.values_path(&app.name, &e.name)), limit)? {
            let Some(action) = c.trailer(keys::ACTION) else {
                continue;
            };
            let detail = details(
                &c,
                &[
                    keys::APPROVED_BY,
                    keys::BREAK_GLASS,
                    keys::REASON,
                    keys::REVERTS,
                    keys::ANALYSIS,
                    keys::WATCH_VERDICT,
                    keys::SCAN,
                ],
            );
            events.push(HistoryEvent {
                time: time(c.time),
                app: several.then(|| app.name.to_string()),
                action: action.to_owned(),
                env: e.name.to_string(),
                sha: c.build_of(app.name.as_str()).unwrap_or_default().to_owned(),
                by: c
                    .trailer(keys::REQUESTED_BY)
                    .unwrap_or(&c.author)
                    .to_owned(),
                detail,
                revision: c.revision.to_string(),
            });
        }
    }
    for c in Records::new(repo).log(limit)? {
        let Some(action) = c.trailer(RECORD_ACTION) else {
            continue;
        };
        let record_env = c.trailer(keys::ENVIRONMENT).unwrap_or_default();
        if env.is_some_and(|n| !record_env.is_empty() && record_env != n) {
            continue;
        }
        let by = c
            .trailer(keys::APPROVED_BY)
            .or(c.trailer(keys::REQUESTED_BY))
            .unwrap_or(&c.author);
        let detail = details(&c, &[keys::REASON, "Comment"]);
        let record_app = c.trailer(keys::APP);
        if !only.is_empty() && record_app.is_some_and(|a| !only.iter().any(|o| o.as_str() == a)) {
            continue;
        }
        events.push(HistoryEvent {
            time: time(c.time),
            app: several.then(|| record_app.unwrap_or_default().to_owned()),
            action: action.to_owned(),
            env: record_env.to_owned(),
            sha: c.trailer(keys::IMAGE_SHA).unwrap_or_default().to_owned(),
            by: by.to_owned(),
            detail,
            revision: c.revision.to_string(),
        });
    }
    events.sort_by(|a, b| b.time.cmp(&a.time));
    events.truncate(limit);
    Ok(events)
}

/// `Key: value` for each of `keys` the commit carries, joined.
fn details(commit: &model::audit::CommitRecord, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| {
            commit
                .trailer(k)
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}: {v}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}
