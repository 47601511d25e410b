//! `cargo xtask approve` and `cargo xtask unblock`: records kept beside the desired state.

use super::{Error, Pipeline, Result};
use crate::adapters::gitops::Written;
use crate::adapters::records::Records;
use crate::model::{Approval, EnvName, GitSha, Person, Reason};
use crate::policy::approval::{ApprovalRule, may_approve};

/// The newest request to promote into `env`: what `approve` without `--sha` approves.
pub async fn newest_request(
    pipeline: &Pipeline,
    env: &EnvName,
) -> Result<crate::model::PromotionRequest> {
    let env = env.clone();
    pipeline
        .git(move |repo| {
            Records::new(repo)
                .read()?
                .requests
                .into_iter()
                .filter(|r| r.env == env)
                .max_by_key(|r| r.at)
                .ok_or(Error::NothingRequested {
                    env: env.to_string(),
                })
        })
        .await
}

/// Records `approver`'s approval of `sha` for `env`, after checking that somebody asked to
/// promote exactly that build there (an approval of nothing requested is refused) and that
/// `approver` may give it.
pub async fn approve(
    pipeline: &Pipeline,
    env: &EnvName,
    sha: &GitSha,
    approver: &Person,
    comment: Option<String>,
) -> Result<Written> {
    let config = pipeline.config.environment(env.as_str())?;
    let approvers = config.approvers.clone();
    let required = config.approvals;
    let approval = Approval {
        sha: sha.clone(),
        env: env.clone(),
        approver: approver.clone(),
        at: pipeline.clock.now(),
        comment,
    };
    pipeline
        .git(move |repo| {
            let records = Records::new(repo);
            let Some(request) = records
                .read()?
                .request(&approval.env, &approval.sha)
                .cloned()
            else {
                return Err(Error::NotRequested {
                    env: approval.env.to_string(),
                    sha: approval.sha.to_string(),
                });
            };
            let rule = ApprovalRule {
                required,
                approvers: &approvers,
            };
            may_approve(
                &rule,
                &approval.env,
                &approval.approver,
                Some(&request.requester),
            )?;
            Ok(records.add_approval(&approval)?)
        })
        .await
}

/// Lifts the block on `app`'s build `sha`.
pub async fn unblock(
    pipeline: &Pipeline,
    app: &crate::model::AppName,
    sha: &GitSha,
    by: &Person,
    reason: &Reason,
) -> Result<Written> {
    let (app, sha, by, reason) = (app.clone(), sha.clone(), by.clone(), reason.clone());
    pipeline
        .git(move |repo| Records::new(repo).remove_block(&app, &sha, &by, &reason))
        .await
}
