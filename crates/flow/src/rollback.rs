//! Rolling back one environment: a forward commit that reverts exactly what the promotion of
//! the bad build changed in that environment's values file (a path-scoped revert of the
//! recorded commit, correct even when other commits landed after it), a block on the bad
//! build, then the target converges (rollbacks pass sync freezes) and is verified.
//! Plan, then act, like `promote`: one snapshot, `policy::revert` plans, the flow executes.

use super::{Error, Pipeline, Result, snapshot, sync};
use adapters::gitops::{Change, Written};
use adapters::notify::Notice;
use adapters::records::Records;
use model::audit::{Action, Build, CommitMessage, keys};
use model::report::Reporter;
use model::{AppName, Block, EnvName, GitSha, Person, Reason};
use policy::revert::{self, RollbackPlan, Undo, UndoDocuments};

/// How to roll back.
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    /// The app rolled back (its values file in `env` only).
    pub app: AppName,
    pub env: EnvName,
    /// Go back to this build instead of the one before the bad promotion.
    pub to: Option<GitSha>,
    pub reason: Reason,
    pub requested_by: Person,
    pub run_id: String,
    /// Only when the environment still runs this build; otherwise there is nothing to do
    /// (automation that must never roll back twice).
    pub if_running: Option<GitSha>,
    /// Plan and report; write nothing.
    pub dry_run: bool,
    /// The failed analysis that called for this rollback (its figures and thresholds), for
    /// the commit's `Analysis` trailer and the notice.
    pub analysis: Option<String>,
    /// What the watch that called for this rollback showed; `None`: a person asked for it
    /// (the build is blocked).
    pub verdict: Option<WatchVerdict>,
}

/// What the watch that called for an automatic rollback showed, recorded in the commit's
/// `Watch-Verdict` trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchVerdict {
    /// The build was shown bad: rolled back and blocked.
    Bad,
    /// The watch could not judge it (errors, an unreadable replica, too few requests): rolled
    /// back, since a gate that cannot see fails closed, but not blocked.
    Unproven,
}

impl WatchVerdict {
    /// The trailer's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bad => "bad: rolled back and blocked",
            Self::Unproven => "unproven: rolled back, not blocked (the watch could not judge it)",
        }
    }
}

/// What a rollback of `sha` in `env` to `to` did, in words (`to` empty: the environment had no
/// build before).
pub fn done(env: &str, sha: &str, to: &str, blocked: bool) -> String {
    let back = if to.is_empty() {
        format!(
            "{env} had no build before this one: rolled back to no build (none of it runs there now)"
        )
    } else {
        format!("rolled back to {to}")
    };
    if blocked {
        format!("{back} and blocked {sha}")
    } else {
        format!(
            "{back}; {sha} is not blocked (the watch could not judge it; nothing showed it bad)"
        )
    }
}

/// How a rollback ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackOutcome {
    RolledBack,
    /// `--if-running` named a build the environment no longer runs: nothing was done.
    NotRunning,
    /// A dry run: nothing was done.
    Planned,
}

/// What a rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    pub env: String,
    pub outcome: RollbackOutcome,
    pub from_sha: String,
    pub to_sha: String,
    /// The promotion commit that was reverted.
    pub reverted: Option<GitSha>,
    pub written: Option<Written>,
    /// The build now blocked from promotion.
    pub blocked: Option<String>,
    /// The approvals of the undone promotion revoked (or why they could not be).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    pub plan: Option<RollbackPlan>,
}

/// Rolls `options.env` back; see the module documentation.
pub async fn rollback(
    pipeline: &Pipeline,
    options: &RollbackOptions,
    reporter: &dyn Reporter,
) -> Result<RollbackReport> {
    let env = pipeline.config.environment(options.env.as_str())?;
    let app = pipeline.config.app(options.app.as_str())?;
    let snap = snapshot::read(pipeline).await?;
    let current_tag = snap.tag(&app.name, &env.name).to_owned();
    if let Some(expected) = &options.if_running
        && current_tag != expected.as_str()
    {
        return Ok(RollbackReport {
            env: env.name.to_string(),
            outcome: RollbackOutcome::NotRunning,
            from_sha: current_tag.clone(),
            to_sha: current_tag,
            reverted: None,
            written: None,
            blocked: None,
            revoked: None,
            plan: None,
        });
    }
    let plan = plan(pipeline, &snap, options).await?;
    let mut report = RollbackReport {
        env: env.name.to_string(),
        outcome: RollbackOutcome::Planned,
        from_sha: plan.from_sha.clone(),
        to_sha: plan.to_sha.clone(),
        reverted: plan.reverted.clone(),
        written: None,
        blocked: None,
        revoked: None,
        plan: Some(plan.clone()),
    };
    if options.dry_run {
        return Ok(report);
    }

    let change = change(options, &plan);
    let written = pipeline.git(move |repo| repo.write(&change)).await?;
    let revision = written.revision().clone();
    reporter.progress(
        "rollback",
        format!("{}: committed the revert at {revision}", env.name),
    );
    let block = options.verdict != Some(WatchVerdict::Unproven);
    if let Ok(bad) = plan.from_sha.parse::<GitSha>()
        && block
    {
        let block = Block {
            sha: bad,
            app: Some(app.name.clone()),
            reason: options.reason.clone(),
            by: options.requested_by.clone(),
            at: pipeline.clock.now(),
            rollback: Some(revision.clone()),
        };
        let app_name = app.name.clone();
        pipeline
            .git(move |repo| {
                let records = Records::new(repo);
                if records.read()?.block(&app_name, &block.sha).is_none() {
                    records.add_block(&block)?;
                }
                Ok::<_, Error>(())
            })
            .await?;
        report.blocked = Some(plan.from_sha.clone());
    }
    report.revoked = revoke_approvals(pipeline, &snap, options, &plan, reporter).await;

    sync::deploy(pipeline, app, env, &plan.to_sha, reporter).await?;
    pipeline
        .notify(&Notice {
            headline: format!("{} rolled back in {}", app.name, env.name),
            ok: false,
            facts: vec![
                ("Environment".to_owned(), env.name.to_string()),
                ("From".to_owned(), plan.from_sha.clone()),
                ("To".to_owned(), to_words(&env.name, &plan.to_sha)),
                ("Reason".to_owned(), options.reason.to_string()),
                (
                    "Blocked".to_owned(),
                    match options.verdict {
                        Some(WatchVerdict::Unproven) => {
                            "no: the watch could not judge the build".to_owned()
                        }
                        _ => format!("yes: {}", plan.from_sha),
                    },
                ),
            ]
            .into_iter()
            .chain(
                options
                    .analysis
                    .iter()
                    .map(|a| ("Analysis".to_owned(), a.clone())),
            )
            .collect(),
        })
        .await;
    report.outcome = RollbackOutcome::RolledBack;
    report.written = Some(written);
    Ok(report)
}

/// Revokes the approvals of the promotion the rollback undid, in its environment: an
/// approval admits one promotion, so taking the same release there again needs new ones.
/// The rollback itself has happened whatever this finds: a revocation that fails is said
/// (progress, and the report's `revoked`) rather than undoing it.
async fn revoke_approvals(
    pipeline: &Pipeline,
    snap: &policy::plan::Snapshot,
    options: &RollbackOptions,
    plan: &RollbackPlan,
    reporter: &dyn Reporter,
) -> Option<String> {
    let default_app = pipeline.config.apps[0].name.to_string();
    // The promotion undone: the one reverted, or with `--to` the newest that brought the
    // build the environment ran.
    let commit =
        snap.history(&options.app, &options.env)
            .iter()
            .find(|c| match &plan.reverted {
                Some(reverted) => &c.revision == reverted,
                None => c
                    .builds(&default_app)
                    .iter()
                    .any(|b| b.app == options.app.as_str() && b.sha == plan.from_sha),
            })?;
    let reverted = &commit.revision;
    let moved: Vec<(AppName, GitSha)> = commit
        .builds(&default_app)
        .iter()
        .filter_map(|b| Some((b.app.parse().ok()?, b.sha.parse().ok()?)))
        .collect();
    let id = policy::plan::approval_id(&moved)?;
    let (env, why) = (
        options.env.clone(),
        format!("{reverted} was rolled back: {}", options.reason),
    );
    let revoking = id.clone();
    let revoked = pipeline
        .git(move |repo| Records::new(repo).revoke_approvals(&env, &revoking, &why))
        .await;
    let said = match revoked {
        Ok(None) => return None,
        Ok(Some((_, approvers))) => format!(
            "revoked the approvals of {id} in {} (by {}): promoting it there again needs new ones",
            options.env,
            policy::approval::names(&approvers)
        ),
        Err(err) => format!(
            "could not revoke the approvals of {id} in {}: {err}; they still admit it: remove approvals/{}/{id}/ from the records branch",
            options.env, options.env
        ),
    };
    reporter.progress("rollback", said.clone());
    Some(said)
}

/// The apps the newest promotion of `env` moved (in dependency order): what a rollback of
/// the last release undoes.
pub async fn last_release(pipeline: &Pipeline, env: &EnvName) -> Result<Vec<AppName>> {
    let snap = snapshot::read(pipeline).await?;
    let histories: Vec<(AppName, Vec<model::audit::CommitRecord>)> = pipeline
        .config
        .apps
        .iter()
        .map(|a| (a.name.clone(), snap.history(&a.name, env).to_vec()))
        .collect();
    Ok(revert::last_release(&histories))
}

/// Plans the rollback: which commit to undo (`policy::revert::choose`), the file at that
/// commit and its parent, and the edits (`policy::revert::plan_rollback`).
async fn plan(
    pipeline: &Pipeline,
    snap: &policy::plan::Snapshot,
    options: &RollbackOptions,
) -> Result<RollbackPlan> {
    let (app, env) = (&options.app, &options.env);
    let environment = pipeline.config.environment(env.as_str())?;
    let history = snap.history(app, env);
    let undo = revert::choose(app, env, history, snap.tag(app, env), options.to.as_ref())
        .map_err(revert::Refused::from)?;
    let (at, before) = match undo {
        Undo::Restore(commit) => (commit.revision.clone(), None),
        Undo::Revert(commit) => (commit.revision.clone(), commit.parent.clone()),
    };
    let at_commit = sync::values(pipeline, app, environment, &at).await?;
    let before_commit = match &before {
        Some(parent) => Some(sync::values(pipeline, app, environment, parent).await?),
        None => None,
    };
    let current = snap
        .values(app, env)
        .ok_or_else(|| config::Error::UnknownEnvironment {
            name: env.to_string(),
            known: Vec::new(),
        })?;
    Ok(revert::plan_rollback(
        app,
        env,
        current,
        undo,
        UndoDocuments {
            at_commit: &at_commit,
            before_commit: before_commit.as_ref(),
        },
    )?)
}

/// The build rolled back to, in words: `none (prod had no build before)` when there was none.
fn to_words(env: &EnvName, to: &str) -> String {
    if to.is_empty() {
        format!("none ({env} had no build before)")
    } else {
        to.to_owned()
    }
}

fn change(options: &RollbackOptions, plan: &RollbackPlan) -> Change {
    let mut message = CommitMessage::new(format!(
        "revert({}): roll back {} from {} to {}",
        plan.env,
        plan.app,
        plan.from_sha,
        to_words(&plan.env, &plan.to_sha)
    ))
    .trailer(keys::ACTION, Action::Rollback.as_str())
    .trailer(keys::ENVIRONMENT, plan.env.as_str())
    .builds(&[Build {
        app: plan.app.as_str(),
        sha: &plan.to_sha,
        digest: &plan.to_digest,
    }])
    .trailer(keys::REASON, options.reason.as_str())
    .trailer(keys::REQUESTED_BY, options.requested_by.as_str())
    .trailer(keys::RUN_ID, &options.run_id);
    if options.verdict != Some(WatchVerdict::Unproven) {
        message = message.trailer(keys::BLOCKED_SHA, &plan.from_sha);
    }
    if let Some(verdict) = options.verdict {
        message = message.trailer(keys::WATCH_VERDICT, verdict.as_str());
    }
    if let Some(reverted) = &plan.reverted {
        message = message.trailer(keys::REVERTS, reverted.as_str());
    }
    if let Some(analysis) = &options.analysis {
        message = message.trailer(keys::ANALYSIS, analysis);
    }
    Change::one(
        plan.path.clone(),
        plan.edits.clone(),
        Some(plan.planned_from.clone()),
        message,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_a_rollback_did_is_said_plainly_and_never_with_an_empty_name() {
        let check = |to: &str, blocked: bool, expected: &str| {
            assert_eq!(super::done("prod", "bad", to, blocked), expected);
        };
        check("good", true, "rolled back to good and blocked bad");
        check(
            "good",
            false,
            "rolled back to good; bad is not blocked (the watch could not judge it; nothing showed it bad)",
        );
        check(
            "",
            true,
            "prod had no build before this one: rolled back to no build (none of it runs there now) and blocked bad",
        );
        check(
            "",
            false,
            "prod had no build before this one: rolled back to no build (none of it runs there now); bad is not blocked (the watch could not judge it; nothing showed it bad)",
        );
        assert_eq!(
            super::to_words(&"prod".parse().expect("env"), ""),
            "none (prod had no build before)"
        );
    }
}
