//! `cargo xtask approve` and `cargo xtask unblock`: records kept beside the desired state.

use super::{Pipeline, Result};
use crate::adapters::gitops::Written;
use crate::model::{EnvName, GitSha};
use crate::policy::approval::{Approval, ApprovalRule, may_approve};

/// Records `approver`'s approval of `sha` for `env`, after checking they may give it.
pub fn approve(
    pipeline: &Pipeline,
    env: &EnvName,
    sha: &GitSha,
    approver: &str,
    comment: Option<String>,
) -> Result<Written> {
    let config = pipeline.config.environment(env.as_str())?;
    let rule = ApprovalRule {
        required: config.approvals,
        approvers: &config.approvers,
    };
    let records = pipeline.records();
    let requester = records.request(env, sha)?.map(|r| r.requester);
    may_approve(&rule, env, approver, requester.as_deref())?;
    Ok(records.add_approval(&Approval {
        sha: sha.clone(),
        env: env.clone(),
        approver: approver.to_owned(),
        at: pipeline.clock.now(),
        comment,
    })?)
}

/// Lifts the block on `sha`.
pub fn unblock(pipeline: &Pipeline, sha: &GitSha, by: &str, reason: &str) -> Result<Written> {
    Ok(pipeline.records().remove_block(sha, by, reason)?)
}
