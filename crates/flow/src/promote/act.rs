//! Executing one stage of a promotion plan: pass the gates, decide the window once more right
//! before the write (an approval can arrive after the freeze began), write exactly the planned
//! edit, wait until the target runs it and smoke-test, then watch; a watched environment that
//! goes wrong is rolled back (its values file only).

use super::recover::{Found, roll_back, verdict};
use super::{EnvPromotion, PromoteOptions, StageOutcome, analysis, canary, gate, monitor};
use super::{Failure, step_name};
use crate::rollback::WatchVerdict;
use crate::steps::Steps;
use crate::{Error, Pipeline, sync};
use adapters::gitops::{Change, FileEdit, Written};
use adapters::notify::Notice;
use model::AppName;
use model::Reason;
use model::audit::{Action, Build, CommitMessage, keys};
use model::report::Outcome;
use policy::analysis::Window;
use policy::approval::names;
use policy::plan::{AppStage, MonitorStep, PromotionPlan, Stage};
use policy::window::SyncWindow;

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
    let passed = steps
        .run(&step_name(stage, "gate"), async {
            let passed = gate::pass(pipeline, options, plan, stage, windows).await?;
            Ok::<_, Error>((Outcome::Succeeded, passed.notes.join("; "), passed))
        })
        .await?;

    // The previous builds' figures, for the analysis to compare with: read now, while only
    // the previous builds' replicas serve, every analysed app at once.
    let env = pipeline.config.environment(name)?;
    let reporter = steps.reporter();
    let measured: Vec<(&AppStage, &MonitorStep)> = stage
        .apps
        .iter()
        .filter_map(|a| {
            a.monitor
                .as_ref()
                .filter(|m| m.analysis.is_some())
                .map(|m| (a, m))
        })
        .collect();
    let baselines = if measured.is_empty() {
        Vec::new()
    } else {
        let step = step_name(stage, "baseline");
        steps
            .run(&step, async {
                let reads = measured.iter().map(|(app, watch)| {
                    let measure = monitor::measure(watch);
                    let step = step.clone();
                    async move {
                        let baseline = analysis::baseline(
                            pipeline, &app.app, &stage.env, &app.sha, &measure, &step, reporter,
                        )
                        .await?;
                        Ok::<_, Error>((app.app.clone(), baseline))
                    }
                });
                let read: Vec<(AppName, Option<Window>)> = futures_util::future::join_all(reads)
                    .await
                    .into_iter()
                    .collect::<Result<_, _>>()?;
                let detail = read
                    .iter()
                    .map(|(app, b)| {
                        let line = analysis::describe_baseline(b.as_ref());
                        if stage.apps.len() > 1 {
                            format!("{app}: {line}")
                        } else {
                            line
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok::<_, Error>((Outcome::Succeeded, detail, read))
            })
            .await?
    };

    let change = stage_change(plan, stage, &options.run_id, &passed.approved_by);
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
                Written::Unchanged { revision } => (
                    Outcome::Unchanged,
                    format!("already at {} ({revision})", plan.describe()),
                ),
            };
            Ok::<_, Error>((outcome, detail, written))
        })
        .await?;
    let revision = written.revision().clone();
    let committed = matches!(written, Written::Committed { .. });
    if let Some(failed) = canary::run(pipeline, steps, stage, committed).await? {
        let found = Found {
            trouble: failed.trouble,
            analysis: failed.analysis,
            verdict: verdict(failed.proven),
            app: None,
        };
        return Err(roll_back(pipeline, options, steps, plan, stage, found).await);
    }

    // Every app in dependency order: each runs and answers before the next, which may call it.
    let deployed = steps
        .run(&step_name(stage, "deploy"), async {
            let mut urls = Vec::new();
            let mut lines = Vec::new();
            for app in &stage.apps {
                let config = pipeline.config.app(app.app.as_str())?;
                let deployed =
                    sync::deploy(pipeline, config, env, app.sha.as_str(), reporter).await?;
                lines.push(format!(
                    "{}{} replica(s) serve {} (started {}, retired {})",
                    if stage.apps.len() > 1 {
                        format!("{}: ", app.app)
                    } else {
                        String::new()
                    },
                    deployed.urls.len(),
                    app.sha.as_str(),
                    deployed.convergence.started.len(),
                    deployed.convergence.removed.len()
                ));
                urls.extend(deployed.urls);
            }
            Ok::<_, Error>((Outcome::Succeeded, lines.join("; "), urls))
        })
        .await;
    // Where the environment is watched after a change, a failed rollout is rolled back at
    // once; elsewhere it stops the promotion and leaves the values for a person.
    let urls = match deployed {
        Ok(urls) => urls,
        Err(error @ Error::Superseded { .. }) => return Err(error.into()),
        Err(error) if stage.monitor().is_some() && committed => {
            let app = match &error {
                Error::Smoke { app, .. } => app.parse().ok(),
                _ => None,
            };
            let found = Found {
                trouble: error.to_string(),
                analysis: None,
                verdict: WatchVerdict::Bad,
                app,
            };
            return Err(roll_back(pipeline, options, steps, plan, stage, found).await);
        }
        Err(error) => return Err(error.into()),
    };

    if stage.monitor().is_some() {
        let step = step_name(stage, "monitor");
        let watched = steps
            .run(&step, async {
                Ok::<_, Error>(watch_all(pipeline, stage, baselines, &step, reporter).await)
            })
            .await?;
        if let Some(trouble) = watched.1.trouble {
            let found = Found {
                trouble,
                analysis: watched.1.analysis,
                verdict: verdict(watched.1.proven),
                app: watched.0,
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
        diff: diff_lines(stage),
        approved_by: passed.approved_by,
        urls,
    })
}

/// Watches every watched app of `stage` over one window, all at once; the first app whose
/// watch fails ends it (the others are dropped) and names itself, so the rollback blocks the
/// app shown bad.
async fn watch_all(
    pipeline: &Pipeline,
    stage: &Stage,
    mut baselines: Vec<(AppName, Option<Window>)>,
    step: &str,
    reporter: &dyn model::report::Reporter,
) -> (Outcome, String, (Option<AppName>, monitor::Watched)) {
    use futures_util::StreamExt;
    let several = stage.apps.len() > 1;
    let mut watching: futures_util::stream::FuturesUnordered<_> = stage
        .apps
        .iter()
        .filter_map(|app| app.monitor.clone().map(|m| (app, m)))
        .map(|(app, watch)| {
            let baseline = baselines
                .iter_mut()
                .find(|(a, _)| a == &app.app)
                .and_then(|(_, b)| b.take());
            async move {
                // A watch that could not even begin (the target or the GitOps remote did not
                // answer, retries spent) could not judge the build: it fails closed.
                let judged = monitor::watch(pipeline, stage, app, watch, baseline, step, reporter)
                    .await
                    .unwrap_or_else(|error| {
                        let trouble = format!("the watch could not judge it: {error}");
                        let watched = monitor::Watched {
                            trouble: Some(trouble.clone()),
                            analysis: None,
                            proven: false,
                        };
                        (Outcome::Failed, trouble, watched)
                    });
                (app.app.clone(), judged)
            }
        })
        .collect();
    let mut lines = Vec::new();
    while let Some((app, (outcome, detail, watched))) = watching.next().await {
        let line = if several {
            format!("{app}: {detail}")
        } else {
            detail
        };
        if watched.trouble.is_some() {
            return (outcome, line, (Some(app), watched));
        }
        lines.push(line);
    }
    (
        Outcome::Succeeded,
        lines.join("; "),
        (None, monitor::Watched::default()),
    )
}

/// The planned edits of `stage` as the one commit a promotion writes: every app's keys, what
/// they held when planned, and the commit message whose trailers make the audit record
/// (`run_id` names the run, `approved_by` who let it through).
pub fn stage_change(
    plan: &PromotionPlan,
    stage: &Stage,
    run_id: &str,
    approved_by: &[model::Person],
) -> Change {
    let previous = plan
        .apps
        .first()
        .map(|m| m.source.to_string())
        .unwrap_or_default();
    let subject = match stage.apps.as_slice() {
        [one] => format!("chore({}): promote {} to {}", stage.env, one.app, one.sha),
        several => format!(
            "chore({}): promote a release of {} apps ({})",
            stage.env,
            several.len(),
            plan.describe()
        ),
    };
    let builds: Vec<Build<'_>> = stage
        .apps
        .iter()
        .map(|a| Build {
            app: a.app.as_str(),
            sha: a.sha.as_str(),
            digest: a.digest.as_str(),
        })
        .collect();
    let mut message = CommitMessage::new(subject)
        .trailer(keys::ACTION, Action::Promote.as_str())
        .trailer(keys::ENVIRONMENT, stage.env.as_str())
        .builds(&builds)
        .trailer(keys::PROMOTED_FROM, &previous)
        .trailer(keys::REQUESTED_BY, plan.requested_by.as_str())
        .trailer(keys::RUN_ID, run_id);
    if !approved_by.is_empty() {
        message = message.trailer(keys::APPROVED_BY, names(approved_by));
    }
    Change {
        files: stage
            .apps
            .iter()
            .map(|a| FileEdit {
                path: a.edit.path.clone(),
                set: a.edit.set(),
                planned_from: Some(a.edit.planned_from()),
            })
            .collect(),
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
    revision: &model::GitSha,
    approved_by: &[model::Person],
) {
    pipeline
        .notify(&Notice {
            headline: format!("{} promoted to {}", plan.describe(), stage.env),
            ok: true,
            facts: vec![
                ("Environment".to_owned(), stage.env.to_string()),
                ("Image SHA".to_owned(), plan.describe()),
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

/// The values lines a stage changes; where it moves several apps, each file's lines under its
/// path.
pub(super) fn diff_lines(stage: &Stage) -> Vec<String> {
    let several = stage.apps.len() > 1;
    stage
        .apps
        .iter()
        .flat_map(|a| {
            let header = (several && !a.edit.diff.is_empty()).then(|| format!("{}:", a.edit.path));
            header.into_iter().chain(a.edit.diff.iter().cloned())
        })
        .collect()
}
