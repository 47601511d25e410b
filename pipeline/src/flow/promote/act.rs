//! Executing one stage of a promotion plan: pass the gates, decide the window once more right
//! before the write (an approval can arrive after the freeze began), write exactly the planned
//! edit, wait until the target runs it and smoke-test, then watch; a watched environment that
//! goes wrong is rolled back (its values file only).

use super::recover::{Found, roll_back, verdict};
use super::{EnvPromotion, PromoteOptions, StageOutcome, analysis, canary, gate, monitor};
use crate::adapters::gitops::{Change, Written};
use crate::adapters::notify::Notice;
use crate::audit::{Action, CommitMessage, keys};
use crate::flow::rollback::{RollbackReport, WatchVerdict};
use crate::flow::steps::Steps;
use crate::flow::{Error, Pipeline, sync};
use crate::model::Reason;
use crate::policy::approval::names;
use crate::policy::plan::{PromotionPlan, Stage};
use crate::policy::window::SyncWindow;
use crate::report::Outcome;

/// Why a stage stopped.
pub(super) enum Failure {
    Error(Error),
    RolledBack(Box<RollbackReport>, Error),
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

pub(super) fn step_name(stage: &Stage, what: &str) -> String {
    format!("{what}-{}", stage.env)
}

/// Runs `stage` of `plan`.
pub(super) async fn stage(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    steps: &mut Steps<'_>,
    plan: &PromotionPlan,
    stage: &Stage,
    windows: &[SyncWindow],
) -> Result<EnvPromotion, Failure> {
    let name = stage.env.as_str();
    let sha = &plan.sha;
    let passed = steps
        .run(&step_name(stage, "gate"), async {
            let passed = gate::pass(pipeline, options, plan, stage, windows).await?;
            Ok::<_, Error>((Outcome::Succeeded, passed.notes.join("; "), passed))
        })
        .await?;

    // The previous build's figures, for the analysis to compare with: read now, while only
    // the previous build's replicas serve.
    let env = pipeline.config.environment(name)?;
    let reporter = steps.reporter();
    let measured = stage.monitor.as_ref().filter(|m| m.analysis.is_some());
    let baseline = match (measured, &env.analysis) {
        (Some(watch), Some(_)) => {
            let step = step_name(stage, "baseline");
            let measure = monitor::measure(watch);
            steps
                .run(&step, async {
                    let baseline =
                        analysis::baseline(pipeline, &stage.env, sha, &measure, &step, reporter)
                            .await?;
                    let detail = analysis::describe_baseline(baseline.as_ref());
                    Ok::<_, Error>((Outcome::Succeeded, detail, baseline))
                })
                .await?
        }
        _ => None,
    };

    let change = change(pipeline, options, plan, stage, &passed.approved_by);
    let written = steps
        .run(&step_name(stage, "write"), async {
            // The wait for approvals can be long: the window is decided again now, right
            // before the write. Closed meanwhile: refused, nothing written, approvals kept.
            let break_glass = gate::window(pipeline, options, stage, windows)?;
            let change = with_break_glass(change, break_glass.as_ref());
            let written = pipeline.git(move |repo| repo.write(&change)).await?;
            let (outcome, detail) = match &written {
                Written::Committed { revision, .. } => {
                    (Outcome::Succeeded, format!("committed {revision}"))
                }
                Written::Unchanged { revision } => {
                    (Outcome::Unchanged, format!("already at {sha} ({revision})"))
                }
            };
            Ok::<_, Error>((outcome, detail, written))
        })
        .await?;
    let revision = written.revision().clone();
    let committed = matches!(written, Written::Committed { .. });
    if let Some(failed) = canary::run(pipeline, steps, stage, sha, committed).await? {
        let found = Found {
            trouble: failed.trouble,
            analysis: failed.analysis,
            verdict: verdict(failed.proven),
        };
        return Err(roll_back(pipeline, options, steps, plan, stage, found).await);
    }

    let deployed = steps
        .run(&step_name(stage, "deploy"), async {
            let deployed = sync::deploy(pipeline, env, sha.as_str(), reporter).await?;
            let detail = format!(
                "{} replica(s) serve {} (started {}, retired {})",
                deployed.urls.len(),
                sha.as_str(),
                deployed.convergence.started.len(),
                deployed.convergence.removed.len()
            );
            Ok::<_, Error>((Outcome::Succeeded, detail, deployed.urls))
        })
        .await;
    // Where the environment is watched after a change, a failed rollout is rolled back at
    // once; elsewhere it stops the promotion and leaves the values for a person.
    let urls = match deployed {
        Ok(urls) => urls,
        Err(error @ Error::Superseded { .. }) => return Err(error.into()),
        Err(error) if stage.monitor.is_some() && committed => {
            let found = Found {
                trouble: error.to_string(),
                analysis: None,
                verdict: WatchVerdict::Bad,
            };
            return Err(roll_back(pipeline, options, steps, plan, stage, found).await);
        }
        Err(error) => return Err(error.into()),
    };

    if let Some(watch) = stage.monitor.clone() {
        let step = step_name(stage, "monitor");
        let watched = steps
            .run(&step, async {
                // A watch that could not even begin (the target or the GitOps remote did not
                // answer, retries spent) could not judge the build: it fails closed.
                let watching =
                    monitor::watch(pipeline, stage, watch, sha, baseline, &step, reporter);
                Ok::<_, Error>(watching.await.unwrap_or_else(|error| {
                    let trouble = format!("the watch could not judge it: {error}");
                    let watched = monitor::Watched {
                        trouble: Some(trouble.clone()),
                        analysis: None,
                        proven: false,
                    };
                    (Outcome::Failed, trouble, watched)
                }))
            })
            .await?;
        if let Some(trouble) = watched.trouble {
            let found = Found {
                trouble,
                analysis: watched.analysis,
                verdict: verdict(watched.proven),
            };
            return Err(roll_back(pipeline, options, steps, plan, stage, found).await);
        }
    }

    if committed {
        notify(
            pipeline,
            options,
            plan,
            stage,
            &revision,
            &passed.approved_by,
        )
        .await;
    }
    Ok(EnvPromotion {
        env: name.to_owned(),
        outcome: if committed {
            StageOutcome::Promoted
        } else {
            StageOutcome::Unchanged
        },
        revision: Some(revision),
        diff: stage.edit.diff.clone(),
        approved_by: passed.approved_by,
        urls,
    })
}

/// The planned edit as a change: the keys, what they held when planned, and the commit
/// message whose trailers make the audit record.
fn change(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    plan: &PromotionPlan,
    stage: &Stage,
    approved_by: &[crate::model::Person],
) -> Change {
    let previous = pipeline
        .config
        .previous(&stage.env)
        .map(|p| p.name.to_string())
        .unwrap_or_default();
    let mut message = CommitMessage::new(format!(
        "chore({}): promote {} to {}",
        stage.env, pipeline.config.app.name, plan.sha
    ))
    .trailer(keys::ACTION, Action::Promote.as_str())
    .trailer(keys::ENVIRONMENT, stage.env.as_str())
    .trailer(keys::IMAGE_SHA, plan.sha.as_str())
    .trailer(keys::IMAGE_DIGEST, plan.digest.as_str())
    .trailer(keys::PROMOTED_FROM, &previous)
    .trailer(keys::REQUESTED_BY, options.requested_by.as_str())
    .trailer(keys::RUN_ID, &options.run_id);
    if !approved_by.is_empty() {
        message = message.trailer(keys::APPROVED_BY, names(approved_by));
    }
    Change {
        path: stage.edit.path.clone(),
        set: stage.edit.set(),
        planned_from: Some(stage.edit.planned_from()),
        message,
    }
}

fn with_break_glass(mut change: Change, reason: Option<&Reason>) -> Change {
    if let Some(reason) = reason {
        change.message = change.message.trailer(keys::BREAK_GLASS, reason.as_str());
    }
    change
}

async fn notify(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    plan: &PromotionPlan,
    stage: &Stage,
    revision: &crate::model::GitSha,
    approved_by: &[crate::model::Person],
) {
    pipeline
        .notify(&Notice {
            headline: format!(
                "{} {} promoted to {}",
                pipeline.config.app.name,
                plan.sha.short(),
                stage.env
            ),
            ok: true,
            facts: vec![
                ("Environment".to_owned(), stage.env.to_string()),
                ("Image SHA".to_owned(), plan.sha.to_string()),
                ("GitOps commit".to_owned(), revision.to_string()),
                ("Requested by".to_owned(), options.requested_by.to_string()),
                (
                    "Approved by".to_owned(),
                    if approved_by.is_empty() {
                        "-".to_owned()
                    } else {
                        names(approved_by)
                    },
                ),
            ],
        })
        .await;
}
