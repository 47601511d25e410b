//! Rolling a stage back after its build failed there (a failed canary, rollout or watch):
//! the automatic rollback, blocked or not as the watch's verdict says, and, where the
//! rollback itself cannot be done, the error and the Slack notice that say the environment
//! runs an unverified build and how to roll it back by hand.

use super::PromoteOptions;
use super::act::{Failure, step_name};
use crate::adapters::notify::Notice;
use crate::flow::rollback::{self, RollbackOptions, WatchVerdict};
use crate::flow::steps::Steps;
use crate::flow::{Error, Pipeline};
use crate::model::Reason;
use crate::policy::plan::{PromotionPlan, Stage};
use crate::report::Outcome;

/// What calls for a rollback: why, the analysis' figures, and whether it showed the build bad.
pub(super) struct Found {
    pub trouble: String,
    pub analysis: Option<String>,
    pub verdict: WatchVerdict,
}

pub(super) fn verdict(proven: bool) -> WatchVerdict {
    if proven {
        WatchVerdict::Bad
    } else {
        WatchVerdict::Unproven
    }
}

/// Rolls `stage.env` back after the build failed there, and returns the failure to report.
/// A rollback that cannot be done leaves the environment on an unverified build: the error
/// says so and how to roll back by hand, and Slack is told.
pub(super) async fn roll_back(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    steps: &mut Steps<'_>,
    plan: &PromotionPlan,
    stage: &Stage,
    found: Found,
) -> Failure {
    let Found {
        trouble,
        analysis,
        verdict,
    } = found;
    // The whole story is in the error and the report; the record gets what fits.
    let reason = Reason::summarise(&format!("automatic: {trouble}"));
    let rollback_options = RollbackOptions {
        env: stage.env.clone(),
        to: None,
        reason: reason.clone(),
        requested_by: options.requested_by.clone(),
        run_id: options.run_id.clone(),
        if_running: None,
        dry_run: false,
        analysis,
        verdict: Some(verdict),
    };
    let reporter = steps.reporter();
    let rolled = steps
        .run(&step_name(stage, "rollback"), async {
            let rolled = rollback::rollback(pipeline, &rollback_options, reporter).await?;
            let detail = format!("{} now runs {}", rolled.env, rolled.to_sha);
            Ok::<_, Error>((Outcome::Succeeded, detail, rolled))
        })
        .await;
    match rolled {
        Ok(rolled) => {
            let error = Error::RolledBack {
                env: stage.env.to_string(),
                sha: plan.sha.to_string(),
                problems: trouble,
                rolled_back_to: rolled.to_sha.clone(),
                blocked: rolled.blocked.is_some(),
            };
            Failure::RolledBack(Box::new(rolled), error)
        }
        Err(error) => {
            let error = Error::Unverified {
                env: stage.env.to_string(),
                sha: plan.sha.to_string(),
                problems: trouble,
                problems_short: reason.as_str().replace(['"', '`', '$', '\\'], "'"),
                why: error.to_string(),
            };
            unverified(pipeline, stage, &plan.sha, &error).await;
            Failure::Error(error)
        }
    }
}

/// Tells Slack that `stage.env` runs `sha` unverified, and how to roll it back by hand.
async fn unverified(pipeline: &Pipeline, stage: &Stage, sha: &crate::model::GitSha, error: &Error) {
    pipeline
        .notify(&Notice {
            headline: format!(
                "{} {} runs UNVERIFIED in {}: the automatic rollback failed",
                pipeline.config.app.name,
                sha.short(),
                stage.env
            ),
            ok: false,
            facts: vec![
                ("Environment".to_owned(), stage.env.to_string()),
                ("Image SHA".to_owned(), sha.to_string()),
                ("What happened".to_owned(), error.to_string()),
            ],
        })
        .await;
}
