//! `cargo xtask history`: promotions, deploys, rollbacks, approvals and blocks, read back from
//! the GitOps log and the records branch.

use super::{Pipeline, Result};
use crate::adapters::gitops::GitOpsRepo;
use crate::adapters::records::{RECORD_ACTION, Records};
use crate::audit::keys;
use crate::config::PipelineConfig;

/// One event of the history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEvent {
    pub time: String,
    pub action: String,
    pub env: String,
    pub sha: String,
    pub by: String,
    pub detail: String,
    pub revision: String,
}

/// Every event, newest first, optionally for one environment (read off the executor).
pub async fn history(
    pipeline: &Pipeline,
    env: Option<&str>,
    limit: usize,
) -> Result<Vec<HistoryEvent>> {
    let config = pipeline.config.clone();
    let env = env.map(str::to_owned);
    pipeline
        .git(move |repo| read(repo, &config, env.as_deref(), limit))
        .await
}

fn read(
    repo: &GitOpsRepo,
    config: &PipelineConfig,
    env: Option<&str>,
    limit: usize,
) -> Result<Vec<HistoryEvent>> {
    let tip = repo.fetch()?;
    let mut events = Vec::new();
    for e in config
        .environments
        .iter()
        .filter(|e| env.is_none_or(|n| e.name.as_str() == n))
    {
        for c in repo.log(&tip, Some(&config.values_path(&e.name)), limit)? {
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
                action: action.to_owned(),
                env: e.name.to_string(),
                sha: c.trailer(keys::IMAGE_SHA).unwrap_or_default().to_owned(),
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
        events.push(HistoryEvent {
            time: time(c.time),
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
fn details(commit: &crate::audit::CommitRecord, keys: &[&str]) -> String {
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
