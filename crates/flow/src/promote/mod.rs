//! `cargo xtask promote --env ENV [--sha SHA]`: move one exact build (never rebuilt) into the
//! next environment. Plan, then act: read one snapshot of the GitOps state and records, ask the
//! registry for the build's digest, let `policy::plan` make the [`PromotionPlan`] (every
//! refusal that can be known before a write is found there), print it when `--dry-run`, and
//! otherwise execute exactly that plan, stage by stage (`act`).

mod act;
mod analysis;
mod canary;
mod gate;
mod monitor;
mod recover;

use std::time::Duration;

use super::rollback::RollbackReport;
use super::steps::{StepRecord, Steps};
use super::{Error, Pipeline, Result, snapshot, supply_chain};
use model::report::{Outcome, Reporter};
use model::{Digest, EnvName, GitSha, Person, Reason};
use policy::plan::{self, Facts, Found, PromotionPlan, Request};

pub use act::stage_change;
pub use gate::{ApprovalMode, ApprovalPrompt, PlatformApprovals};

/// Why a stage stopped.
enum Failure {
    Error(Error),
    RolledBack(Box<RollbackReport>, Error),
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

/// The name a stage's step is recorded under: `<what>-<env>`.
fn step_name(stage: &plan::Stage, what: &str) -> String {
    format!("{what}-{}", stage.env)
}

/// How to run `promote`.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    pub env: EnvName,
    /// The apps to move (`--app`); empty: every app whose build differs.
    pub apps: Vec<model::AppName>,
    /// Default: the build the previous environment runs.
    pub sha: Option<GitSha>,
    pub dry_run: bool,
    pub requested_by: Person,
    pub run_id: String,
    /// Set: pass a closed sync window, recording this reason.
    pub break_glass: Option<Reason>,
    pub approval: ApprovalMode,
    /// Overrides the environment's monitoring duration.
    pub monitor: Option<Duration>,
}

/// How one environment's part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// Its values were written and it runs the build.
    Promoted,
    /// Its values already named the build; it runs it.
    Unchanged,
    /// A dry run: nothing was done.
    Planned,
}

impl std::fmt::Display for StageOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Promoted => "promoted",
            Self::Unchanged => "unchanged",
            Self::Planned => "planned",
        })
    }
}

/// One environment's part in a promotion.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvPromotion {
    pub env: String,
    pub outcome: StageOutcome,
    pub revision: Option<GitSha>,
    /// The values lines that change (`-old` / `+new`).
    pub diff: Vec<String>,
    pub approved_by: Vec<Person>,
    pub urls: Vec<String>,
}

/// What `promote` did; also the `--json` document.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PromoteReport {
    pub sha: Option<GitSha>,
    pub digest: Option<Digest>,
    /// The plan that was executed (or, with `--dry-run`, would be).
    pub plan: Option<PromotionPlan>,
    pub environments: Vec<EnvPromotion>,
    pub rollback: Option<RollbackReport>,
    pub steps: Vec<StepRecord>,
    pub error: Option<String>,
}

/// Runs `promote`. The report is returned whatever happened.
pub async fn run(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    reporter: &dyn Reporter,
) -> (PromoteReport, Option<Error>) {
    let mut steps = Steps::new(reporter);
    let mut report = PromoteReport::default();
    let result = promote(pipeline, options, &mut steps, &mut report).await;
    report.steps = steps.records;
    report.error = result.as_ref().err().map(ToString::to_string);
    (report, result.err())
}

async fn promote(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    steps: &mut Steps<'_>,
    report: &mut PromoteReport,
) -> Result<()> {
    pipeline.config.environment(options.env.as_str())?;
    let request = Request {
        env: options.env.clone(),
        apps: options.apps.clone(),
        sha: options.sha.clone(),
        requested_by: options.requested_by.clone(),
        break_glass: options.break_glass.clone(),
        monitor: options.monitor,
    };
    let (plan, snapshot) = steps
        .run("plan", async {
            let snapshot = snapshot::read(pipeline).await?;
            let choices = plan::choose(&pipeline.config, &snapshot, &request)?;
            let mut read = Vec::new();
            for choice in &choices {
                let app = pipeline.config.app(choice.app.as_str())?;
                let digest = pipeline
                    .registry
                    .digest(&app.repository, choice.sha.as_str())
                    .await?;
                // Read before the plan, so `--dry-run` shows the supply-chain check too.
                let evidence = match &digest {
                    Some(d) => Some(
                        supply_chain::evidence(pipeline, &app.repository, &choice.chain, d).await,
                    ),
                    None => None,
                };
                read.push((choice.app.clone(), digest, evidence));
            }
            let found: Vec<Found<'_>> = read
                .iter()
                .map(|(app, digest, evidence)| Found {
                    app,
                    digest: digest.as_ref(),
                    supply_chain: evidence.as_ref(),
                })
                .collect();
            let plan = plan::plan(
                Facts {
                    config: &pipeline.config,
                    snapshot: &snapshot,
                    found: &found,
                    now: pipeline.clock.now(),
                    target: pipeline.target.target_kind(),
                },
                &request,
                &choices,
            )?;
            let detail = format!(
                "{} through {}; {}",
                plan.describe(),
                plan.stages
                    .iter()
                    .map(|s| s.env.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                plan.checks
                    .iter()
                    .map(|c| c.detail.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok::<_, Error>((Outcome::Succeeded, detail, (plan, snapshot)))
        })
        .await?;
    // One app's build, or the one commit every app of the release was built from: what a
    // workflow rolls back with `--if-running` should the run die.
    if let [one, rest @ ..] = plan.apps.as_slice()
        && rest.iter().all(|m| m.sha == one.sha)
    {
        report.sha = Some(one.sha.clone());
        if rest.is_empty() {
            report.digest = Some(one.digest.clone());
        }
    }
    report.plan = Some(plan.clone());

    if options.dry_run {
        report.environments = plan
            .stages
            .iter()
            .map(|stage| EnvPromotion {
                env: stage.env.to_string(),
                outcome: StageOutcome::Planned,
                revision: None,
                diff: act::diff_lines(stage),
                approved_by: Vec::new(),
                urls: Vec::new(),
            })
            .collect();
        return Ok(());
    }

    for stage in &plan.stages {
        let done = act::stage(pipeline, options, steps, &plan, stage, &snapshot.windows).await;
        match done {
            Ok(promotion) => report.environments.push(promotion),
            Err(Failure::RolledBack(rolled, error)) => {
                report.rollback = Some(*rolled);
                return Err(error);
            }
            Err(Failure::Error(error)) => return Err(error),
        }
    }
    Ok(())
}
