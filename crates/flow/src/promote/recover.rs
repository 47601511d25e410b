//! Rolling a stage back after its build failed there (a failed canary, rollout or watch):
//! the automatic rollback, blocked or not as the watch's verdict says, and, where the
//! rollback itself cannot be done, the error and the Slack notice that say the environment
//! runs an unverified build and how to roll it back by hand.

use super::PromoteOptions;
use super::{Failure, step_name};
use crate::rollback::{self, RollbackOptions, WatchVerdict};
use crate::steps::Steps;
use crate::{Error, Pipeline};
use adapters::notify::Notice;
use model::Reason;
use model::report::Outcome;
use policy::plan::{PromotionPlan, Stage};

/// What calls for a rollback: why, the analysis' figures, whether it showed the build bad,
/// and which app of the stage it showed bad (`None`: the stage as a whole, or unknown).
pub(super) struct Found {
    pub trouble: String,
    pub analysis: Option<String>,
    pub verdict: WatchVerdict,
    pub app: Option<model::AppName>,
}

pub(super) fn verdict(proven: bool) -> WatchVerdict {
    if proven {
        WatchVerdict::Bad
    } else {
        WatchVerdict::Unproven
    }
}

/// Rolls every app of `stage` back (its values file in `stage.env` only), the apps that
/// depend on others first, after the release failed there, and returns the failure to
/// report. Only the app the watch showed bad is blocked (every app, when it cannot tell
/// which); an unproven verdict blocks none. A rollback that cannot be done leaves the
/// environment on an unverified build: the error says so and how to roll back by hand, and
/// Slack is told.
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
        app: bad_app,
    } = found;
    // The whole story is in the error and the report; the record gets what fits.
    let reason = Reason::summarise(&format!("automatic: {trouble}"));
    let mut rolled_back = Vec::new();
    for app in stage.apps.iter().rev() {
        let shown_bad = bad_app.as_ref().is_none_or(|bad| bad == &app.app);
        let rollback_options = RollbackOptions {
            app: app.app.clone(),
            env: stage.env.clone(),
            to: None,
            reason: reason.clone(),
            requested_by: options.requested_by.clone(),
            run_id: options.run_id.clone(),
            if_running: Some(app.sha.clone()),
            dry_run: false,
            analysis: analysis.clone(),
            verdict: Some(if shown_bad {
                verdict
            } else {
                WatchVerdict::Unproven
            }),
        };
        let reporter = steps.reporter();
        let name = if stage.apps.len() > 1 {
            format!("{}-{}", step_name(stage, "rollback"), app.app)
        } else {
            step_name(stage, "rollback")
        };
        let rolled = steps
            .run(&name, async {
                let rolled = rollback::rollback(pipeline, &rollback_options, reporter).await?;
                let detail = format!("{} now runs {}", rolled.env, rolled.to_sha);
                Ok::<_, Error>((Outcome::Succeeded, detail, rolled))
            })
            .await;
        match rolled {
            Ok(rolled) => rolled_back.push((app, rolled)),
            Err(error) => {
                let error = Error::Unverified {
                    env: stage.env.to_string(),
                    app: app.app.to_string(),
                    sha: app.sha.to_string(),
                    problems: trouble,
                    why: error.to_string(),
                };
                unverified(pipeline, stage, &app.sha, &error).await;
                return Failure::Error(error);
            }
        }
    }
    // One app: its build and where it went. Several: each app's, the blocked one named.
    let blocked: Vec<String> = rolled_back
        .iter()
        .filter(|(_, r)| r.blocked.is_some())
        .map(|(a, _)| format!("{}@{}", a.app, a.sha.short()))
        .collect();
    let (sha, to) = match rolled_back.as_slice() {
        [(app, rolled)] => (app.sha.to_string(), rolled.to_sha.clone()),
        _ => (
            if blocked.is_empty() {
                plan.describe()
            } else {
                blocked.join(", ")
            },
            rolled_back
                .iter()
                .map(|(a, r)| {
                    let to = if r.to_sha.is_empty() {
                        "no build".to_owned()
                    } else {
                        r.to_sha.get(..12).unwrap_or(&r.to_sha).to_owned()
                    };
                    format!("{} {to}", a.app)
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
    };
    // The report keeps the rollback of the app shown bad (the last one rolled back else).
    let Some(index) = rolled_back
        .iter()
        .position(|(_, r)| r.blocked.is_some())
        .or(rolled_back.len().checked_sub(1))
    else {
        return Failure::Error(Error::Interrupted(format!(
            "{}: a stage without apps cannot be rolled back",
            stage.env
        )));
    };
    let (_, report) = rolled_back.swap_remove(index);
    let error = Error::RolledBack {
        env: stage.env.to_string(),
        sha,
        problems: trouble,
        rolled_back_to: to,
        blocked: !blocked.is_empty(),
    };
    Failure::RolledBack(Box::new(report), error)
}

/// Tells Slack that `stage.env` runs `sha` unverified, and how to roll it back by hand.
async fn unverified(pipeline: &Pipeline, stage: &Stage, sha: &model::GitSha, error: &Error) {
    pipeline
        .notify(&Notice {
            headline: format!(
                "{} runs UNVERIFIED in {}: the automatic rollback failed",
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
