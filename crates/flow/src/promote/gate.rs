//! The gates of one stage, passed at the moment the stage runs: the sync window (decided
//! again, since time moved since the plan) and the approvals (read again, since people may have
//! approved meanwhile), the same rule `policy::approval` applies everywhere.

use std::time::Duration;

use tokio::time::Instant;

use futures_util::future::BoxFuture;

use super::PromoteOptions;
use crate::{Error, Pipeline, Result, approve};
use adapters::notify::Notice;
use adapters::records::Records;
use model::{Approval, EnvName, GitSha, Person, PromotionRequest, Reason};
use policy::approval::{ApprovalRule, GateStatus, gate, names};
use policy::freeze::WindowGate;
use policy::plan::{PromotionPlan, Stage, window_now};
use policy::window::SyncWindow;

/// Asks the person at the terminal whether to approve (the question is the argument);
/// answers with who approves, or `None`.
pub type ApprovalPrompt = std::sync::Arc<dyn Fn(String) -> Option<String> + Send + Sync>;

/// Approvals a CI platform recorded for this run (GitHub's required reviewers of a
/// deployment environment).
pub trait PlatformApprovals: Send + Sync + std::fmt::Debug {
    /// The logins that approved `env` for this run. An error means the platform could not
    /// tell, and the gate refuses (fails closed).
    fn approved(&self, env: &EnvName) -> BoxFuture<'_, std::result::Result<Vec<String>, String>>;
}

/// How the approval gate is passed.
#[derive(Clone)]
pub enum ApprovalMode {
    /// Wait (up to the environment's `approval_timeout`) for approvals recorded with
    /// `cargo xtask approve`.
    Wait,
    /// Like `Wait`, but first ask the person at the terminal, once; their approval is
    /// recorded like any other (and refused, like any other, when they requested it).
    Prompt(ApprovalPrompt),
    /// Stop at once with "awaiting approval" when approvals are missing.
    NoWait,
    /// The CI platform's reviewers approved this run: their approvals pass through the same
    /// rule as every other (never the requester, the allow-list, N distinct) and are recorded.
    Platform(std::sync::Arc<dyn PlatformApprovals>),
}

impl std::fmt::Debug for ApprovalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Wait => f.write_str("Wait"),
            Self::Prompt(_) => f.write_str("Prompt"),
            Self::NoWait => f.write_str("NoWait"),
            Self::Platform(p) => write!(f, "Platform({p:?})"),
        }
    }
}

/// What passing the gates gave.
#[derive(Debug, Clone)]
pub(super) struct Passed {
    pub approved_by: Vec<Person>,
    pub notes: Vec<String>,
}

/// The window now: open, passed with break-glass, or refused (exit 3, nothing written).
pub(super) fn window(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    stage: &Stage,
    windows: &[SyncWindow],
) -> Result<Option<Reason>> {
    Ok(
        match window_now(
            stage,
            windows,
            options.break_glass.as_ref(),
            pipeline.clock.now(),
        )? {
            WindowGate::BreakGlass { reason, .. } => Some(reason),
            WindowGate::Open | WindowGate::Closed { .. } => None,
        },
    )
}

/// The window, then the approvals of `stage`.
pub(super) async fn pass(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    plan: &PromotionPlan,
    stage: &Stage,
    windows: &[SyncWindow],
) -> Result<Passed> {
    let break_glass = window(pipeline, options, stage, windows)?;
    let mut notes = Vec::new();
    if let Some(reason) = &break_glass {
        notes.push(format!("break-glass: {reason}"));
    }
    if stage.approval.required == 0 {
        notes.push("no approval needed".to_owned());
        return Ok(Passed {
            approved_by: Vec::new(),
            notes,
        });
    }
    let rule = ApprovalRule {
        required: stage.approval.required,
        approvers: &stage.approval.approvers,
    };
    let by = match &options.approval {
        // The platform holds the request and the reviews: nothing is written unless they pass.
        ApprovalMode::Platform(platform) => {
            platform_approvals(pipeline, options, platform.as_ref(), plan, stage, &rule).await?
        }
        _ => {
            request(pipeline, options, plan, &stage.env).await?;
            wait(pipeline, options, plan, stage, &rule, &mut notes).await?
        }
    };
    notes.push(format!("approved by {}", names(&by)));
    Ok(Passed {
        approved_by: by,
        notes,
    })
}

/// Records the request to promote (once), and tells Slack.
async fn request(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    plan: &PromotionPlan,
    env: &EnvName,
) -> Result<()> {
    let sha = &plan.release;
    let request = PromotionRequest {
        builds: plan
            .apps
            .iter()
            .map(|m| format!("{}@{}", m.app, m.sha))
            .collect(),
        sha: sha.clone(),
        env: env.clone(),
        requester: options.requested_by.clone(),
        at: pipeline.clock.now(),
        run_id: options.run_id.clone(),
    };
    let added = pipeline
        .git(move |repo| {
            let records = Records::new(repo);
            if records
                .read()?
                .request(&request.env, &request.sha)
                .is_some()
            {
                return Ok::<_, Error>(false);
            }
            records.add_request(&request)?;
            Ok(true)
        })
        .await?;
    if added {
        pipeline
            .notify(&Notice {
                headline: format!("{} awaits approval for {env}", plan.describe()),
                ok: true,
                facts: vec![
                    ("Requested by".to_owned(), options.requested_by.to_string()),
                    (
                        "Approve with".to_owned(),
                        format!("cargo xtask approve --env {env} --sha {sha}"),
                    ),
                ],
            })
            .await;
    }
    Ok(())
}

/// Every approval of the plan's build for `env` on record now.
async fn approvals_now(pipeline: &Pipeline, env: &EnvName, sha: &GitSha) -> Result<Vec<Approval>> {
    let (env, sha) = (env.clone(), sha.clone());
    pipeline
        .git(move |repo| Ok::<_, Error>(Records::new(repo).read()?.approvals_for(&env, &sha)))
        .await
}

/// Waits for approvals recorded with `approve` (or given at the prompt).
async fn wait(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    plan: &PromotionPlan,
    stage: &Stage,
    rule: &ApprovalRule<'_>,
    notes: &mut Vec<String>,
) -> Result<Vec<Person>> {
    let (env, sha) = (&stage.env, &plan.release);
    let started = Instant::now();
    let mut asked = false;
    loop {
        let approvals = approvals_now(pipeline, env, sha).await?;
        let (have, need, may_approve) =
            match gate(rule, env, sha, &options.requested_by, &approvals) {
                GateStatus::NotRequired => return Ok(Vec::new()),
                GateStatus::Approved { by } => return Ok(by),
                GateStatus::Waiting {
                    have,
                    need,
                    may_approve,
                } => (have, need, may_approve),
            };
        if let ApprovalMode::Prompt(prompt) = &options.approval
            && !asked
        {
            asked = true;
            let prompt = prompt.clone();
            let question = format!(
                "approve {sha} for {env}? ({} of {need} given; may approve: {may_approve})",
                have.len()
            );
            let answer = tokio::task::spawn_blocking(move || prompt(question))
                .await
                .ok()
                .flatten();
            if let Some(answer) = answer {
                let given = match answer.parse::<Person>() {
                    Ok(approver) => approve::approve(pipeline, env, Some(sha), &approver, None)
                        .await
                        .map(|_| ()),
                    Err(invalid) => Err(Error::from(invalid)),
                };
                match given {
                    Ok(()) => continue,
                    Err(refused) => notes.push(format!("{answer} could not approve: {refused}")),
                }
            }
        }
        if matches!(options.approval, ApprovalMode::NoWait)
            || started.elapsed() >= stage.approval.timeout
        {
            let what = if plan.apps.len() > 1 {
                format!("release {sha} ({})", plan.describe())
            } else {
                sha.to_string()
            };
            return Err(Error::AwaitingApproval {
                env: env.to_string(),
                what,
                sha: sha.to_string(),
                have: have.len(),
                need,
                may_approve,
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The platform's reviewers, through the same rule; recorded when they pass it. Fails
/// closed: a platform that cannot answer, or approvals that do not pass, refuse (exit 3).
async fn platform_approvals(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    platform: &dyn PlatformApprovals,
    plan: &PromotionPlan,
    stage: &Stage,
    rule: &ApprovalRule<'_>,
) -> Result<Vec<Person>> {
    let (env, sha) = (&stage.env, &plan.release);
    let refuse = |why: String| Error::PlatformApproval {
        env: env.to_string(),
        why,
    };
    let logins = platform.approved(env).await.map_err(refuse)?;
    let now = pipeline.clock.now();
    let approvals: Vec<Approval> = logins
        .iter()
        .filter_map(|login| login.parse::<Person>().ok())
        .map(|approver| Approval {
            sha: sha.clone(),
            env: env.clone(),
            approver,
            at: now,
            comment: Some("approved in the CI platform's environment review".to_owned()),
        })
        .collect();
    let by = match gate(rule, env, sha, &options.requested_by, &approvals) {
        GateStatus::NotRequired => return Ok(Vec::new()),
        GateStatus::Approved { by } => by,
        GateStatus::Waiting {
            have,
            need,
            may_approve,
        } => {
            return Err(refuse(format!(
                "{} valid approval(s) of {need} in the run's review (reviewers: {}; may approve: {may_approve})",
                have.len(),
                if logins.is_empty() {
                    "none".to_owned()
                } else {
                    logins.join(", ")
                }
            )));
        }
    };
    let counted: Vec<Approval> = approvals
        .into_iter()
        .filter(|a| by.contains(&a.approver))
        .collect();
    pipeline
        .git(move |repo| {
            let records = Records::new(repo);
            for approval in &counted {
                records.add_approval(approval)?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    Ok(by)
}
