//! `cargo xtask approve` and `cargo xtask unblock`: records kept beside the desired state.

use super::{Error, Pipeline, Result};
use adapters::gitops::Written;
use adapters::records::Records;
use model::{AppName, Approval, EnvName, GitSha, Person, Reason};
use policy::approval::{ApprovalRule, may_approve};
use policy::plan::approval_rule;

/// The newest request to promote into `env`: what `approve` without `--sha` approves.
pub async fn newest_request(pipeline: &Pipeline, env: &EnvName) -> Result<model::PromotionRequest> {
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
/// `approver` may give it: by the rule the promotion's gate applies, the environment's as
/// each app of the request asks it (`policy::plan::approval_rule`).
pub async fn approve(
    pipeline: &Pipeline,
    env: &EnvName,
    sha: &GitSha,
    approver: &Person,
    comment: Option<String>,
) -> Result<Written> {
    let environment = pipeline.config.environment(env.as_str())?.clone();
    let config = pipeline.config.clone();
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
            // The apps the request moves: a release names them; a request of one build is
            // the only app's (or, from before apps, the environment's alone).
            let named: Vec<AppName> = request
                .builds
                .iter()
                .filter_map(|b| b.split_once('@').and_then(|(app, _)| app.parse().ok()))
                .collect();
            let apps: Vec<&AppName> = if named.is_empty() && config.apps.len() == 1 {
                vec![&config.apps[0].name]
            } else {
                named.iter().collect()
            };
            let (required, approvers) = approval_rule(&config, &environment, apps);
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
    app: &model::AppName,
    sha: &GitSha,
    by: &Person,
    reason: &Reason,
) -> Result<Written> {
    let (app, sha, by, reason) = (app.clone(), sha.clone(), by.clone(), reason.clone());
    pipeline
        .git(move |repo| Records::new(repo).remove_block(&app, &sha, &by, &reason))
        .await
}
