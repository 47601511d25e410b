//! `cargo xtask approve` and `cargo xtask unblock`: records kept beside the desired state.

use super::{Error, Pipeline, Result};
use adapters::gitops::Written;
use adapters::records::{RECORD_ACTION, Records};
use config::{EnvironmentConfig, PipelineConfig};
use model::audit::keys;
use model::{AppName, Approval, EnvName, GitSha, Person, PromotionRequest, Reason};
use policy::approval::choice::{Candidate, choose};
use policy::approval::{ApprovalRule, GateStatus, gate, may_approve};
use policy::plan::approval_rule;

/// How far back the records branch is read to order requests asked at one instant.
const RECORDS_READ: usize = 1000;

/// An approval recorded, and the request it approves.
#[derive(Debug, Clone)]
pub struct Approved {
    pub written: Written,
    pub request: PromotionRequest,
}

/// Records `approver`'s approval of a request to promote into `env`: the one `which` names (its
/// id, or the commit a release's builds were made from), or the newest still waiting for
/// approvals (`policy::approval::choice`). Somebody must have asked (an approval of nothing
/// requested is refused) and `approver` must be allowed to give it, by the rule the
/// promotion's gate applies: the environment's as each app of the request asks it
/// (`policy::plan::approval_rule`).
pub async fn approve(
    pipeline: &Pipeline,
    env: &EnvName,
    which: Option<&GitSha>,
    approver: &Person,
    comment: Option<String>,
) -> Result<Approved> {
    let environment = pipeline.config.environment(env.as_str())?.clone();
    let config = pipeline.config.clone();
    let (env, which, approver) = (env.clone(), which.cloned(), approver.clone());
    let at = pipeline.clock.now();
    pipeline
        .git(move |repo| {
            let records = Records::new(repo);
            let set = records.read()?;
            let log = records.log(RECORDS_READ)?;
            let candidates: Vec<Candidate<'_>> = set
                .requests
                .iter()
                .map(|request| {
                    let (required, approvers) = rule_for(&config, &environment, request);
                    let rule = ApprovalRule {
                        required,
                        approvers: &approvers,
                    };
                    let status = gate(
                        &rule,
                        &request.env,
                        &request.sha,
                        &request.requester,
                        &set.approvals,
                    );
                    Candidate {
                        request,
                        waiting: matches!(status, GateStatus::Waiting { .. }),
                        recorded: log.iter().position(|c| {
                            c.trailer(RECORD_ACTION) == Some("request")
                                && c.trailer(keys::ENVIRONMENT) == Some(request.env.as_str())
                                && c.trailer(keys::IMAGE_SHA) == Some(request.sha.as_str())
                        }),
                    }
                })
                .collect();
            let request = choose(&env, &candidates, which.as_ref())?.clone();
            let (required, approvers) = rule_for(&config, &environment, &request);
            let rule = ApprovalRule {
                required,
                approvers: &approvers,
            };
            may_approve(&rule, &env, &approver, Some(&request.requester))?;
            let written = records.add_approval(&Approval {
                sha: request.sha.clone(),
                env: env.clone(),
                approver: approver.clone(),
                at,
                comment: comment.clone(),
            })?;
            Ok::<_, Error>(Approved { written, request })
        })
        .await
}

/// The approval rule for `request`: the apps it moves (a release names them; a request of
/// one build is the only app's, or, from before apps, the environment's alone).
fn rule_for(
    config: &PipelineConfig,
    environment: &EnvironmentConfig,
    request: &PromotionRequest,
) -> (u32, Vec<Person>) {
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
    approval_rule(config, environment, apps)
}
/// Lifts the block on `app`'s build `sha`, unless `by` asked for a promotion of it
/// (`policy::approval::may_unblock`): someone else must judge the build good again.
pub async fn unblock(
    pipeline: &Pipeline,
    app: &model::AppName,
    sha: &GitSha,
    by: &Person,
    reason: &Reason,
) -> Result<Written> {
    let (app, sha, by, reason) = (app.clone(), sha.clone(), by.clone(), reason.clone());
    pipeline
        .git(move |repo| {
            let records = Records::new(repo);
            policy::approval::may_unblock(&records.read()?.requests, &app, &sha, &by)?;
            Ok::<_, Error>(records.remove_block(&app, &sha, &by, &reason)?)
        })
        .await
}
