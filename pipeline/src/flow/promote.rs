//! `cargo xtask promote --env ENV [--sha SHA]`: move one exact build (never rebuilt) into the
//! next environment. Validate everything before any write; go through the environments
//! before the target that do not run the build yet; for each: the sync window, the approval
//! gate, write its values, wait for the target, smoke-test, and watch it for a while, rolling
//! back automatically (and only that environment's values file) when it goes wrong.

use std::time::{Duration, Instant};

use super::rollback::{self, RollbackOptions};
use super::steps::{StepRecord, Steps};
use super::{Error, Pipeline, Result, sync};
use crate::adapters::gitops::{Change, Written};
use crate::adapters::notify::Notice;
use crate::adapters::records::PromotionRequest;
use crate::audit::{Action, CommitMessage, keys};
use crate::config::EnvironmentConfig;
use crate::model::{Digest, EnvName, GitSha};
use crate::policy::approval::{Approval, ApprovalRule, GateStatus, gate};
use crate::policy::monitor::{Round, Streak, problems};
use crate::policy::window::{self, SyncPurpose, WindowDecision};
use crate::report::{Outcome, Reporter};
use crate::scan::Counts;
use crate::values::Scalar;

/// Asks the person at the terminal whether to approve (the question is the argument);
/// answers with who approves, or `None`.
pub type ApprovalPrompt = std::sync::Arc<dyn Fn(String) -> Option<String> + Send + Sync>;

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
    /// The CI platform already gated this job (GitHub's protected environment); the actor who
    /// approved the deployment there is recorded as the approver.
    Platform { actor: String },
}

impl std::fmt::Debug for ApprovalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Wait => f.write_str("Wait"),
            Self::Prompt(_) => f.write_str("Prompt"),
            Self::NoWait => f.write_str("NoWait"),
            Self::Platform { actor } => write!(f, "Platform({actor})"),
        }
    }
}

/// How to run `promote`.
#[derive(Debug, Clone)]
pub struct PromoteOptions {
    pub env: EnvName,
    /// Default: the build the previous environment runs.
    pub sha: Option<GitSha>,
    pub dry_run: bool,
    pub requested_by: String,
    pub run_id: String,
    /// Set: pass a closed sync window, recording this reason.
    pub break_glass: Option<String>,
    pub approval: ApprovalMode,
    /// Overrides the environment's monitoring duration.
    pub monitor: Option<Duration>,
}

/// One environment's part in a promotion.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvPromotion {
    pub env: String,
    /// `promoted`, `unchanged` or `planned` (dry run).
    pub outcome: &'static str,
    pub revision: Option<GitSha>,
    /// The values lines that change (`-old` / `+new`).
    pub diff: Vec<String>,
    pub approved_by: Vec<String>,
    pub urls: Vec<String>,
}

/// What `promote` did; also the `--json` document.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PromoteReport {
    pub sha: Option<GitSha>,
    pub digest: Option<Digest>,
    pub environments: Vec<EnvPromotion>,
    pub rollback: Option<rollback::RollbackReport>,
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
    let config = &pipeline.config;
    let target = config.environment(options.env.as_str())?;
    let Some(previous) = config.previous(&target.name) else {
        return Err(Error::NotPromotable {
            env: target.name.to_string(),
        });
    };

    // Plan: which build, through which environments.
    let tip = pipeline.gitops.fetch()?;
    let tag_in = |env: &EnvName| -> Result<String> {
        Ok(sync::values(pipeline, env, &tip)?
            .get("image.tag")
            .unwrap_or_default()
            .to_owned())
    };
    let sha = match &options.sha {
        Some(sha) => sha.clone(),
        None => {
            let running = tag_in(&previous.name)?;
            running.parse().map_err(|_| Error::NothingToPromote {
                env: previous.name.to_string(),
            })?
        }
    };
    report.sha = Some(sha.clone());
    let mut chain = vec![target];
    while let Some(before) = config.previous(&chain[0].name) {
        if config.previous(&before.name).is_none() || tag_in(&before.name)? == sha.as_str() {
            break;
        }
        chain.insert(0, before);
    }

    // Validate before any write.
    let digest = steps
        .run("validate", validate(pipeline, &sha, &chain, &tip))
        .await?;
    report.digest = Some(digest.clone());

    if options.dry_run {
        for env in &chain {
            let doc = sync::values(pipeline, &env.name, &tip)?;
            let edited = doc.with(&image_edits(&sha, &digest))?;
            report.environments.push(EnvPromotion {
                env: env.name.to_string(),
                outcome: "planned",
                revision: None,
                diff: diff(doc.text(), edited.text()),
                approved_by: Vec::new(),
                urls: Vec::new(),
            });
        }
        return Ok(());
    }

    for env in chain {
        let done = promote_one(pipeline, options, steps, env, &sha, &digest).await;
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

fn image_edits(sha: &GitSha, digest: &Digest) -> Vec<(&'static str, Scalar)> {
    vec![
        ("image.tag", Scalar::str(sha.as_str())),
        ("image.digest", Scalar::str(digest.as_str())),
    ]
}

/// The lines of `before` and `after` that differ, as `-old` / `+new` pairs.
fn diff(before: &str, after: &str) -> Vec<String> {
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .flat_map(|(a, b)| [format!("-{a}"), format!("+{b}")])
        .collect()
}

/// Everything that can refuse a promotion, checked before anything is written. Returns the
/// digest the build is pinned by.
async fn validate(
    pipeline: &Pipeline,
    sha: &GitSha,
    chain: &[&EnvironmentConfig],
    tip: &GitSha,
) -> Result<(Outcome, String, Digest)> {
    let repository = &pipeline.config.image.repository;
    let digest = pipeline
        .registry
        .digest(repository, sha.as_str())
        .await?
        .ok_or_else(|| Error::ImageNotFound {
            image: format!("{repository}:{sha}"),
        })?;
    if let Some(block) = pipeline.records().block(sha)? {
        return Err(Error::Blocked {
            sha: sha.to_string(),
            by: block.by,
            at: block.at.to_rfc3339(),
            reason: block.reason,
        });
    }
    let first = chain[0];
    let Some(previous) = pipeline.config.previous(&first.name) else {
        return Err(Error::NotPromotable {
            env: first.name.to_string(),
        });
    };
    let history = pipeline.gitops.log(
        tip,
        Some(&pipeline.config.values_path(&previous.name)),
        10_000,
    )?;
    let ran = history
        .iter()
        .any(|c| c.trailer(keys::IMAGE_SHA) == Some(sha.as_str()));
    if !ran {
        return Err(Error::NotInPrevious {
            sha: sha.to_string(),
            env: previous.name.to_string(),
        });
    }
    for env in chain {
        if let Some(max_age) = env.scan_max_age {
            scan_evidence(pipeline, env, sha, max_age, tip)?;
        }
    }
    Ok((
        Outcome::Succeeded,
        format!(
            "{repository}:{sha} is {digest}, not blocked, ran in {}",
            previous.name
        ),
        digest,
    ))
}

/// The newest scan of `sha` recorded in the GitOps log must be younger than `max_age` and
/// have no critical finding with a fix.
fn scan_evidence(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    sha: &GitSha,
    max_age: Duration,
    tip: &GitSha,
) -> Result<()> {
    let refuse = |reason: String| Error::ScanEvidence {
        env: env.name.to_string(),
        reason,
    };
    let first = pipeline.config.first();
    let log = pipeline
        .gitops
        .log(tip, Some(&pipeline.config.values_path(&first.name)), 10_000)?;
    let scanned = log.iter().find_map(|c| {
        (c.trailer(keys::IMAGE_SHA) == Some(sha.as_str()))
            .then(|| Some((c.time, Counts::parse(c.trailer(keys::SCAN_FIXABLE)?)?)))
            .flatten()
    });
    let Some((time, fixable)) = scanned else {
        return Err(refuse(format!("no scan of {sha} is recorded")));
    };
    let age = pipeline.clock.now().timestamp() - time;
    if age > max_age.as_secs() as i64 {
        return Err(refuse(format!(
            "the newest scan of {sha} is {} old, older than {}",
            humantime::format_duration(Duration::from_secs(age.max(0) as u64)),
            humantime::format_duration(max_age)
        )));
    }
    if fixable.critical > 0 {
        return Err(refuse(format!(
            "{} critical finding(s) with a fix available",
            fixable.critical
        )));
    }
    Ok(())
}

enum Failure {
    Error(Error),
    RolledBack(Box<rollback::RollbackReport>, Error),
}

impl<E: Into<Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::Error(e.into())
    }
}

async fn promote_one(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    steps: &mut Steps<'_>,
    env: &EnvironmentConfig,
    sha: &GitSha,
    digest: &Digest,
) -> Result<EnvPromotion, Failure> {
    let name = env.name.as_str();
    let tip = pipeline.gitops.fetch()?;

    let step = step_name(name, "gate");
    let gate_result = steps
        .run(&step, pass_gates(pipeline, options, env, sha, &tip))
        .await?;
    let (approved_by, break_glass) = gate_result;

    let doc = sync::values(pipeline, &env.name, &tip)?;
    let before: Vec<String> = ["image.tag", "image.digest"]
        .iter()
        .map(|k| doc.get(k).unwrap_or_default().to_owned())
        .collect();
    let edited = doc.with(&image_edits(sha, digest))?;
    let previous = pipeline
        .config
        .previous(&env.name)
        .map(|p| p.name.to_string())
        .unwrap_or_default();
    let mut message = CommitMessage::new(format!(
        "chore({name}): promote {} to {sha}",
        pipeline.config.app.name
    ))
    .trailer(keys::ACTION, Action::Promote.as_str())
    .trailer(keys::ENVIRONMENT, name)
    .trailer(keys::IMAGE_SHA, sha.as_str())
    .trailer(keys::IMAGE_DIGEST, digest.as_str())
    .trailer(keys::PROMOTED_FROM, &previous)
    .trailer(keys::REQUESTED_BY, &options.requested_by)
    .trailer(keys::RUN_ID, &options.run_id);
    if !approved_by.is_empty() {
        message = message.trailer(keys::APPROVED_BY, approved_by.join(", "));
    }
    if let Some(reason) = &break_glass {
        message = message.trailer(keys::BREAK_GLASS, reason);
    }
    let change = Change {
        path: pipeline.config.values_path(&env.name),
        set: image_edits(sha, digest)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        planned_from: Some(before),
        message,
    };
    let reporter = steps.reporter();
    let written = steps
        .run(&step_name(name, "write"), async {
            let written = pipeline.gitops.write(&change)?;
            let detail = match &written {
                Written::Committed { revision, .. } => format!("committed {revision}"),
                Written::Unchanged { revision } => format!("already at {sha} ({revision})"),
            };
            let outcome = match written {
                Written::Committed { .. } => Outcome::Succeeded,
                Written::Unchanged { .. } => Outcome::Unchanged,
            };
            Ok::<_, Error>((outcome, detail, written))
        })
        .await?;
    let revision = written.revision().clone();

    // Where the environment is watched after a change (prod), a failed rollout is rolled
    // back at once; elsewhere it stops the promotion and leaves the values for a person.
    let monitor = options.monitor.unwrap_or(env.monitor);
    let deployed = steps
        .run(&step_name(name, "deploy"), async {
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
    let urls = match deployed {
        Ok(urls) => urls,
        Err(error @ Error::Superseded { .. }) => return Err(error.into()),
        Err(error) if monitor > Duration::ZERO && matches!(written, Written::Committed { .. }) => {
            return Err(roll_back(pipeline, options, steps, env, sha, error.to_string()).await);
        }
        Err(error) => return Err(error.into()),
    };

    if monitor > Duration::ZERO {
        let verdict = steps
            .run(
                &step_name(name, "monitor"),
                watch(pipeline, env, sha, monitor, reporter),
            )
            .await?;
        if let Some(trouble) = verdict {
            return Err(roll_back(pipeline, options, steps, env, sha, trouble).await);
        }
    }

    if matches!(written, Written::Committed { .. }) {
        pipeline
            .notify(&Notice {
                headline: format!(
                    "{} {} promoted to {name}",
                    pipeline.config.app.name,
                    sha.short()
                ),
                ok: true,
                facts: vec![
                    ("Environment".to_owned(), name.to_owned()),
                    ("Image SHA".to_owned(), sha.to_string()),
                    ("GitOps commit".to_owned(), revision.to_string()),
                    ("Requested by".to_owned(), options.requested_by.clone()),
                    (
                        "Approved by".to_owned(),
                        if approved_by.is_empty() {
                            "-".to_owned()
                        } else {
                            approved_by.join(", ")
                        },
                    ),
                ],
            })
            .await;
    }
    Ok(EnvPromotion {
        env: name.to_owned(),
        outcome: match written {
            Written::Committed { .. } => "promoted",
            Written::Unchanged { .. } => "unchanged",
        },
        revision: Some(revision),
        diff: diff(doc.text(), edited.text()),
        approved_by,
        urls,
    })
}

fn step_name(env: &str, what: &str) -> String {
    format!("{what}-{env}")
}

/// Rolls `env` back after `sha` failed there, and returns the failure to report.
async fn roll_back(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    steps: &mut Steps<'_>,
    env: &EnvironmentConfig,
    sha: &GitSha,
    trouble: String,
) -> Failure {
    let rollback_options = RollbackOptions {
        env: env.name.clone(),
        to: None,
        reason: format!("automatic: {trouble}"),
        requested_by: options.requested_by.clone(),
        run_id: options.run_id.clone(),
    };
    let reporter = steps.reporter();
    let rolled = steps
        .run(&step_name(env.name.as_str(), "rollback"), async {
            let rolled = rollback::rollback(pipeline, &rollback_options, reporter).await?;
            let detail = format!("{} now runs {}", rolled.env, rolled.to_sha);
            Ok::<_, Error>((Outcome::Succeeded, detail, rolled))
        })
        .await;
    match rolled {
        Ok(rolled) => {
            let error = Error::RolledBack {
                env: env.name.to_string(),
                sha: sha.to_string(),
                problems: trouble,
                rolled_back_to: rolled.to_sha.clone(),
            };
            Failure::RolledBack(Box::new(rolled), error)
        }
        Err(error) => Failure::Error(error),
    }
}

/// The sync window, then the approval gate. Returns the approvers and the break-glass reason
/// when one was used.
async fn pass_gates(
    pipeline: &Pipeline,
    options: &PromoteOptions,
    env: &EnvironmentConfig,
    sha: &GitSha,
    tip: &GitSha,
) -> Result<(Outcome, String, (Vec<String>, Option<String>))> {
    let windows = sync::windows(pipeline, tip)?;
    let decision = window::decide(
        &windows,
        &sync::application(pipeline, &env.name),
        &env.namespace,
        pipeline.clock.now(),
        SyncPurpose::Promotion,
    );
    let mut notes = Vec::new();
    let break_glass = match decision {
        WindowDecision::Closed { by, opens_at } => match &options.break_glass {
            Some(reason) => {
                notes.push(format!("break-glass through {by}: {reason}"));
                Some(reason.clone())
            }
            None => {
                return Err(Error::WindowClosed {
                    env: env.name.to_string(),
                    by,
                    opens_at: opens_at.to_rfc3339(),
                });
            }
        },
        _ => None,
    };

    let rule = ApprovalRule {
        required: env.approvals,
        approvers: &env.approvers,
    };
    if rule.required == 0 {
        notes.push("no approval needed".to_owned());
        return Ok((
            Outcome::Succeeded,
            notes.join("; "),
            (Vec::new(), break_glass),
        ));
    }
    let records = pipeline.records();
    if records.request(&env.name, sha)?.is_none() {
        records.add_request(&PromotionRequest {
            sha: sha.clone(),
            env: env.name.clone(),
            requester: options.requested_by.clone(),
            at: pipeline.clock.now(),
            run_id: options.run_id.clone(),
        })?;
        pipeline
            .notify(&Notice {
                headline: format!(
                    "{} {} awaits approval for {}",
                    pipeline.config.app.name,
                    sha.short(),
                    env.name
                ),
                ok: true,
                facts: vec![
                    ("Requested by".to_owned(), options.requested_by.clone()),
                    (
                        "Approve with".to_owned(),
                        format!("cargo xtask approve --env {} --sha {sha}", env.name),
                    ),
                ],
            })
            .await;
    }
    if let ApprovalMode::Platform { actor } = &options.approval {
        records.add_approval(&Approval {
            sha: sha.clone(),
            env: env.name.clone(),
            approver: actor.clone(),
            at: pipeline.clock.now(),
            comment: Some("approved through the CI platform's protected environment".to_owned()),
        })?;
        notes.push(format!("approved by {actor} through the CI platform"));
        return Ok((
            Outcome::Succeeded,
            notes.join("; "),
            (vec![actor.clone()], break_glass),
        ));
    }
    let started = Instant::now();
    let mut asked = false;
    loop {
        let approvals = records.approvals(&env.name, sha)?;
        match gate(&rule, &env.name, sha, &options.requested_by, &approvals) {
            GateStatus::NotRequired => {
                return Ok((
                    Outcome::Succeeded,
                    notes.join("; "),
                    (Vec::new(), break_glass),
                ));
            }
            GateStatus::Approved { by } => {
                notes.push(format!("approved by {}", by.join(", ")));
                return Ok((Outcome::Succeeded, notes.join("; "), (by, break_glass)));
            }
            GateStatus::Waiting {
                have,
                need,
                may_approve,
            } => {
                if let ApprovalMode::Prompt(prompt) = &options.approval
                    && !asked
                {
                    asked = true;
                    let prompt = prompt.clone();
                    let question = format!(
                        "approve {sha} for {}? ({} of {need} given; may approve: {may_approve})",
                        env.name,
                        have.len()
                    );
                    let answer = tokio::task::spawn_blocking(move || prompt(question))
                        .await
                        .ok()
                        .flatten();
                    if let Some(approver) = answer {
                        match super::approve::approve(pipeline, &env.name, sha, &approver, None) {
                            Ok(_) => continue,
                            Err(refused) => {
                                notes.push(format!("{approver} could not approve: {refused}"))
                            }
                        }
                    }
                }
                if matches!(options.approval, ApprovalMode::NoWait)
                    || started.elapsed() >= env.approval_timeout
                {
                    return Err(Error::AwaitingApproval {
                        env: env.name.to_string(),
                        sha: sha.to_string(),
                        have: have.len(),
                        need,
                        may_approve,
                    });
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Watches `env` for `duration`: `Some(problems)` when consecutive failing rounds reached the
/// threshold.
async fn watch(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    sha: &GitSha,
    duration: Duration,
    reporter: &dyn Reporter,
) -> Result<(Outcome, String, Option<String>)> {
    let desired = sync::desired_state(pipeline, env, &pipeline.gitops.fetch()?)?;
    let restarts_of = |replicas: &[(
        crate::adapters::target::Replica,
        crate::adapters::probe::Probe,
    )]| { replicas.iter().map(|(r, _)| r.restarts).sum::<i64>() };
    let start = pipeline.target.probe(&env.name).await?;
    let restarts_at_start = restarts_of(&start);
    let mut streak = Streak::default();
    let mut rounds = 0;
    let started = Instant::now();
    while started.elapsed() < duration {
        tokio::time::sleep(env.monitor_interval.min(duration)).await;
        let observed = pipeline.target.probe(&env.name).await?;
        let probes: Vec<_> = observed.iter().map(|(_, p)| p.clone()).collect();
        let found = problems(&Round {
            probes: &probes,
            restarts: restarts_of(&observed),
            restarts_at_start,
            expected_sha: sha.as_str(),
            expected_replicas: desired.replicas,
        });
        rounds += 1;
        if !found.is_empty() {
            reporter.progress("monitor", format!("round {rounds}: {}", found.join("; ")));
        }
        if streak.record(!found.is_empty(), env.monitor_failures) {
            return Ok((
                Outcome::Failed,
                format!("unhealthy for {} rounds", streak.failing),
                Some(found.join("; ")),
            ));
        }
    }
    Ok((
        Outcome::Succeeded,
        format!(
            "healthy for {rounds} rounds over {}",
            humantime::format_duration(duration)
        ),
        None,
    ))
}
