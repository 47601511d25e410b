//! Rolling back one environment: a forward commit that reverts exactly what the promotion of
//! the bad build changed in that environment's values file (a path-scoped revert of the
//! recorded commit, correct even when other commits landed after it), a block on the bad
//! build, then the target converges (rollbacks pass sync freezes) and is verified.

use super::{Error, Pipeline, Result, sync};
use crate::adapters::gitops::{Change, CommitRecord, Written};
use crate::adapters::notify::Notice;
use crate::adapters::records::Block;
use crate::audit::{Action, CommitMessage, keys};
use crate::model::{EnvName, GitSha};
use crate::policy::revert;
use crate::report::Reporter;
use crate::values::Scalar;

/// How to roll back.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub env: EnvName,
    /// Go back to this build instead of the one before the bad promotion.
    pub to: Option<GitSha>,
    pub reason: String,
    pub requested_by: String,
    pub run_id: String,
}

/// What a rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    pub env: String,
    pub from_sha: String,
    pub to_sha: String,
    /// The promotion commit that was reverted.
    pub reverted: Option<GitSha>,
    pub written: Written,
    pub blocked: String,
}

fn introduced(log: &[CommitRecord], sha: &str) -> Option<CommitRecord> {
    log.iter()
        .find(|c| {
            c.trailer(keys::IMAGE_SHA) == Some(sha)
                && matches!(
                    c.trailer(keys::ACTION).and_then(Action::parse),
                    Some(Action::Promote | Action::Deploy)
                )
        })
        .cloned()
}

/// Rolls `options.env` back; see the module documentation.
pub async fn rollback(
    pipeline: &Pipeline,
    options: &RollbackOptions,
    reporter: &dyn Reporter,
) -> Result<RollbackReport> {
    let env = pipeline.config.environment(options.env.as_str())?;
    let path = pipeline.config.values_path(&env.name);
    let tip = pipeline.gitops.fetch()?;
    let current = sync::values(pipeline, &env.name, &tip)?;
    let bad = current.get("image.tag").unwrap_or_default().to_owned();
    let nothing = |why: String| Error::NothingToRollBack {
        env: env.name.to_string(),
        why,
    };
    if bad.is_empty() {
        return Err(nothing("it runs no build".to_owned()));
    }
    let log = pipeline.gitops.log(&tip, Some(&path), 10_000)?;
    let document_at = |revision: &GitSha| sync::values(pipeline, &env.name, revision);

    let (edits, reverted) = match &options.to {
        Some(to) => {
            let Some(commit) = introduced(&log, to.as_str()) else {
                return Err(nothing(format!("{to} never ran in {}", env.name)));
            };
            let then = document_at(&commit.revision)?;
            let edits = ["image.tag", "image.digest"]
                .iter()
                .map(|k| {
                    (
                        (*k).to_owned(),
                        Scalar::str(then.get(k).unwrap_or_default()),
                    )
                })
                .collect::<Vec<_>>();
            (edits, None)
        }
        None => {
            let Some(commit) = introduced(&log, &bad) else {
                return Err(nothing(format!("no recorded promotion introduced {bad}")));
            };
            let Some(parent) = &commit.parent else {
                return Err(nothing(format!("{} has no parent", commit.revision)));
            };
            let edits = revert::plan(
                &document_at(parent)?,
                &document_at(&commit.revision)?,
                &current,
            )?;
            (edits, Some(commit.revision))
        }
    };
    let target = edits
        .iter()
        .find(|(k, _)| k == "image.tag")
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| bad.clone());
    if target == bad {
        return Err(nothing(format!("it already runs {bad}")));
    }
    let digest = edits
        .iter()
        .find(|(k, _)| k == "image.digest")
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();

    let mut message = CommitMessage::new(format!(
        "revert({}): roll back {} from {bad} to {}",
        env.name,
        pipeline.config.app.name,
        if target.is_empty() {
            "nothing"
        } else {
            &target
        }
    ))
    .trailer(keys::ACTION, Action::Rollback.as_str())
    .trailer(keys::ENVIRONMENT, env.name.as_str())
    .trailer(keys::IMAGE_SHA, &target)
    .trailer(keys::IMAGE_DIGEST, &digest)
    .trailer(keys::BLOCKED_SHA, &bad)
    .trailer(keys::REASON, &options.reason)
    .trailer(keys::REQUESTED_BY, &options.requested_by)
    .trailer(keys::RUN_ID, &options.run_id);
    if let Some(reverted) = &reverted {
        message = message.trailer(keys::REVERTS, reverted.as_str());
    }
    let planned_from = edits
        .iter()
        .map(|(k, _)| current.get(k).unwrap_or_default().to_owned())
        .collect();
    let written = pipeline.gitops.write(&Change {
        path,
        set: edits,
        planned_from: Some(planned_from),
        message,
    })?;
    let revision = written.revision().clone();
    reporter.progress(
        "rollback",
        format!("{}: committed the revert at {revision}", env.name),
    );

    let bad_sha: Option<GitSha> = bad.parse().ok();
    if let Some(bad_sha) = &bad_sha
        && pipeline.records().block(bad_sha)?.is_none()
    {
        pipeline.records().add_block(&Block {
            sha: bad_sha.clone(),
            reason: options.reason.clone(),
            by: options.requested_by.clone(),
            at: pipeline.clock.now(),
            rollback: Some(revision.clone()),
        })?;
    }

    sync::deploy(pipeline, env, &target, reporter).await?;

    pipeline
        .notify(&Notice {
            headline: format!("{} rolled back in {}", pipeline.config.app.name, env.name),
            ok: false,
            facts: vec![
                ("Environment".to_owned(), env.name.to_string()),
                ("From".to_owned(), bad.clone()),
                ("To".to_owned(), target.clone()),
                ("Reason".to_owned(), options.reason.clone()),
            ],
        })
        .await;
    Ok(RollbackReport {
        env: env.name.to_string(),
        from_sha: bad.clone(),
        to_sha: target,
        reverted,
        written,
        blocked: bad,
    })
}
