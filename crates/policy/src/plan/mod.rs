//! A promotion as a value. [`choose`] and [`plan`] are pure functions from the configuration,
//! one [`Snapshot`] of the GitOps state and records, the request and the time into a
//! [`PromotionPlan`]: the environments it walks and, for each, the gates with their decisions,
//! the exact values edit with what it was planned from, and the canary, deploy, smoke and
//! monitor steps. `promote --dry-run` prints it; the promote flow executes exactly it, re-deciding just
//! before each write only what time can change (the window, the approvals).
//! cargo-dist (`DistGraph`) and Terraform (`plan`, then `apply` of that plan) work this way.

mod canary;
mod choose;

mod render;
mod sizing;
mod snapshot;
mod stage;

pub use crate::refusal::Refusal;
pub use canary::CanaryStep;
pub use choose::{Choice, Request, choose};
pub use sizing::{AnalysisStep, error_rates, shortest_window};
pub use snapshot::Snapshot;
pub use stage::{approval_rule, release_id};

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::approval::GateStatus;
use crate::freeze::{WindowGate, promotion_gate};
use crate::scan::{RecordedScan, evidence as evidence_gate};
use crate::supply_chain::{self, Evidence};
use crate::window::{self, SyncPurpose, SyncWindow};
use config::{AppConfig, PipelineConfig};
use model::audit::CommitRecord;
use model::scan::Counts;
use model::values::Scalar;
use model::{AppName, Digest, EnvName, GitSha, Person, Reason, TargetKind};
use stage::{app_stage, merge_windows, stage};

fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// A check that passed while planning.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub check: &'static str,
    pub detail: String,
}

/// One key of a values edit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyEdit {
    pub key: String,
    /// What the key held when the plan was made: a write that finds something else is a
    /// conflict, not an overwrite.
    pub from: String,
    pub to: String,
}

/// The values edit of one app in one environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValuesEdit {
    pub path: String,
    pub keys: Vec<KeyEdit>,
    /// The changed lines, `-old` / `+new`; empty when the file already says this.
    pub diff: Vec<String>,
}

impl ValuesEdit {
    /// The edit as scalars to set.
    pub fn set(&self) -> Vec<(String, Scalar)> {
        self.keys
            .iter()
            .map(|k| (k.key.clone(), Scalar::str(&k.to)))
            .collect()
    }

    /// What each key held when planned, in the order of [`ValuesEdit::set`].
    pub fn planned_from(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.from.clone()).collect()
    }
}

/// The approval gate of one environment, as it stood when planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApprovalStep {
    pub required: u32,
    /// Empty: anyone but the requester.
    pub approvers: Vec<Person>,
    pub status: GateStatus,
    /// The longest wait for the approvals still missing.
    #[serde(serialize_with = "duration_text")]
    pub timeout: Duration,
}

/// How long an environment is watched after its change, and when it rolls back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MonitorStep {
    #[serde(serialize_with = "duration_text")]
    pub duration: Duration,
    #[serde(serialize_with = "duration_text")]
    pub interval: Duration,
    /// Failing rounds in a row that roll the environment back.
    pub failures: u32,
    /// What the metric analysis judges the app's window by (`[environments.analysis]`, or
    /// the app's own) and the evidence it gets (the requests it needs, the load that sends
    /// them); `None`: health only.
    pub analysis: Option<AnalysisStep>,
}

/// One app's part of an environment's stage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppStage {
    pub app: AppName,
    pub sha: GitSha,
    pub digest: Digest,
    /// The Argo CD Application sync windows match.
    pub application: String,
    pub edit: ValuesEdit,
    /// Then, when set (a changed values file): one replica of the build beside the old ones,
    /// judged against them; a fail rolls this environment back before the rest rolls out.
    pub canary: Option<CanaryStep>,
    /// Then, when set: watch the app (one window for every app of the stage), and roll the
    /// stage back if it goes wrong. A failed rollout of a watched environment rolls back too.
    pub monitor: Option<MonitorStep>,
    /// The app has an analysis here, but no window to judge (`--monitor 0`): it is off.
    pub analysis_off: bool,
}

/// One environment's part of a promotion, in the order it runs: one window gate, one
/// approval, one GitOps commit for every app, their rollouts in dependency order, one watch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    pub env: EnvName,
    pub namespace: String,
    pub window: WindowGate,
    pub approval: ApprovalStep,
    /// In dependency order.
    pub apps: Vec<AppStage>,
    /// Then: wait until the target runs it, smoke-test every replica.
    #[serde(serialize_with = "duration_text")]
    pub sync_timeout: Duration,
}

impl Stage {
    /// The watch's rhythm (every app of a stage shares the environment's), when watched.
    pub fn monitor(&self) -> Option<&MonitorStep> {
        self.apps.iter().find_map(|a| a.monitor.as_ref())
    }
}

/// One app's build in a promotion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppMove {
    pub app: AppName,
    pub sha: GitSha,
    pub digest: Digest,
    /// The environment the build comes from.
    pub source: EnvName,
}

/// A whole promotion, planned: a release of one app's build or of several apps' builds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PromotionPlan {
    /// What approvals of this promotion are bound to: the build's SHA when one app moves;
    /// for several, the release's own id ([`release_id`]).
    pub release: GitSha,
    /// In dependency order.
    pub apps: Vec<AppMove>,
    pub requested_by: Person,
    /// The GitOps revision the plan was made at.
    pub tip: GitSha,
    pub planned_at: DateTime<Utc>,
    pub checks: Vec<Check>,
    pub stages: Vec<Stage>,
}

impl PromotionPlan {
    /// `app@short` for each app, as messages name the release.
    pub fn describe(&self) -> String {
        self.apps
            .iter()
            .map(|m| format!("{}@{}", m.app, m.sha.short()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What the registry and the attachment store answered for one app's build.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub app: &'a AppName,
    /// Its digest, or `None` when the registry has no such image.
    pub digest: Option<&'a Digest>,
    /// The signatures and SBOM found for that digest, read when an environment of the
    /// promotion requires them; `None`: not read, which any such requirement refuses.
    pub supply_chain: Option<&'a Evidence>,
}

/// Everything a plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub config: &'a PipelineConfig,
    pub snapshot: &'a Snapshot,
    /// For each app of the choice.
    pub found: &'a [Found<'a>],
    pub now: DateTime<Utc>,
    /// Where the environments run: some steps (a canary) only the local target carries out.
    pub target: TargetKind,
}

/// Plans the promotion `choices` made for `request`: every refusal that can be known before a
/// write is found here, and a refusal for one app refuses the release, naming the app.
pub fn plan(
    facts: Facts<'_>,
    request: &Request,
    choices: &[Choice],
) -> Result<PromotionPlan, Refusal> {
    let Facts {
        config,
        snapshot,
        found,
        now,
        target,
    } = facts;
    let mut checks = Vec::new();
    let mut moves = Vec::new();
    let mut app_stages: Vec<(EnvName, AppStage)> = Vec::new();
    for choice in choices {
        let app = config
            .apps
            .iter()
            .find(|a| a.name == choice.app)
            .unwrap_or_else(|| &config.apps[0]);
        let facts = found.iter().find(|f| f.app == &choice.app);
        let digest = check_app(config, snapshot, app, choice, facts, &mut checks)?;
        let evidence = facts
            .and_then(|f| f.supply_chain)
            .cloned()
            .unwrap_or_else(|| Evidence::not_read(digest.clone()));
        let recorded = recorded_scan(
            snapshot.history(&app.name, &config.first().name),
            &app.name,
            &choice.sha,
        );
        for name in &choice.chain {
            let env = &config.for_app(app, name);
            let named = |r: Refusal| r.for_app(&app.name, config.apps.len());
            if let Some(max_age) = env.scan_max_age {
                evidence_gate(&config.scan, recorded.as_ref(), now.timestamp(), max_age).map_err(
                    |reason| {
                        named(Refusal::ScanEvidence {
                            env: name.to_string(),
                            sha: choice.sha.to_string(),
                            reason,
                        })
                    },
                )?;
                checks.push(Check {
                    check: "scan evidence",
                    detail: format!(
                        "{}{name}: a scan younger than {} passes the scan policy",
                        prefix(&app.name, config),
                        humantime::format_duration(max_age)
                    ),
                });
            }
            if let Some(detail) = supply_chain::gate(
                name,
                &config.requirements(name),
                &digest,
                &choice.sha,
                &evidence,
            )
            .map_err(named)?
            {
                checks.push(Check {
                    check: "supply chain",
                    detail: format!("{}{detail}", prefix(&app.name, config)),
                });
            }
            let mut stage = app_stage(config, snapshot, env, &app.name, &choice.sha, &digest);
            stage.canary = canary::step(env, target).map_err(named)?;
            (stage.monitor, stage.analysis_off) =
                sizing::monitor(env, request.monitor, target).map_err(named)?;
            app_stages.push((name.clone(), stage));
        }
        moves.push(AppMove {
            app: app.name.clone(),
            sha: choice.sha.clone(),
            digest,
            source: choice.source.clone(),
        });
    }
    let release = match moves.as_slice() {
        [one] => one.sha.clone(),
        several => release_id(
            &several
                .iter()
                .map(|m| (m.app.clone(), m.sha.clone()))
                .collect::<Vec<_>>(),
        ),
    };
    let mut stages = Vec::new();
    for env in &config.environments {
        let apps: Vec<AppStage> = app_stages
            .iter()
            .filter(|(e, _)| e == &env.name)
            .map(|(_, s)| s.clone())
            .collect();
        if apps.is_empty() {
            continue;
        }
        if apps.len() > 1 && apps.iter().any(|a| a.canary.is_some()) {
            return Err(Refusal::CanaryRelease {
                env: env.name.to_string(),
                apps: apps
                    .iter()
                    .map(|a| a.app.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        stages.push(stage(config, snapshot, request, env, apps, &release, now));
    }
    Ok(PromotionPlan {
        release,
        apps: moves,
        requested_by: request.requested_by.clone(),
        tip: snapshot.tip.clone(),
        planned_at: now,
        checks,
        stages,
    })
}

/// `app: ` where several apps are configured, so each check names its app.
fn prefix(app: &AppName, config: &PipelineConfig) -> String {
    if config.apps.len() > 1 {
        format!("{app}: ")
    } else {
        String::new()
    }
}

/// The checks of one app's build that do not depend on an environment: in the registry, not
/// blocked, ran where it comes from. Returns its digest.
fn check_app(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    app: &AppConfig,
    choice: &Choice,
    found: Option<&Found<'_>>,
    checks: &mut Vec<Check>,
) -> Result<Digest, Refusal> {
    let sha = &choice.sha;
    let named = |r: Refusal| r.for_app(&app.name, config.apps.len());
    let Some(digest) = found.and_then(|f| f.digest) else {
        return Err(named(Refusal::ImageNotFound {
            image: format!("{}:{sha}", app.repository),
        }));
    };
    checks.push(Check {
        check: "registry",
        detail: format!("{}:{sha} is {digest}", app.repository),
    });
    if let Some(block) = snapshot.records.block(&app.name, sha) {
        return Err(named(Refusal::Blocked {
            sha: sha.to_string(),
            by: block.by.to_string(),
            at: block.at.to_rfc3339(),
            reason: block.reason.to_string(),
        }));
    }
    checks.push(Check {
        check: "not blocked",
        detail: format!(
            "{}no rollback blocked {}",
            prefix(&app.name, config),
            sha.short()
        ),
    });
    if !ran(snapshot.history(&app.name, &choice.source), &app.name, sha) {
        return Err(named(Refusal::NotInPrevious {
            sha: sha.to_string(),
            env: choice.source.to_string(),
        }));
    }
    checks.push(Check {
        check: "ran before",
        detail: format!(
            "{}{} ran in {}",
            prefix(&app.name, config),
            sha.short(),
            choice.source
        ),
    });
    Ok(digest.clone())
}

/// Whether a commit in `app`'s `history` put `sha` into the environment.
fn ran(history: &[CommitRecord], app: &AppName, sha: &GitSha) -> bool {
    history
        .iter()
        .any(|c| c.build_of(app.as_str()) == Some(sha.as_str()))
}

/// The newest scan of `app`'s build `sha` recorded in the first environment's history.
pub fn recorded_scan(
    history: &[CommitRecord],
    app: &AppName,
    sha: &GitSha,
) -> Option<RecordedScan> {
    history.iter().find_map(|c| {
        if c.build_of(app.as_str()) != Some(sha.as_str()) {
            return None;
        }
        let (all, fixable) = c.scan_of(app.as_str());
        Some(RecordedScan {
            time: c.time,
            all: all.and_then(Counts::parse),
            fixable: Counts::parse(fixable?)?,
        })
    })
}

/// The lines of `before` and `after` that differ, as `-old` / `+new` pairs.
pub fn diff(before: &str, after: &str) -> Vec<String> {
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .flat_map(|(a, b)| [format!("-{a}"), format!("+{b}")])
        .collect()
}

/// The window gate of `stage` at `now` (time may have moved since the plan was made).
pub fn window_now(
    stage: &Stage,
    windows: &[SyncWindow],
    break_glass: Option<&Reason>,
    now: DateTime<Utc>,
) -> Result<WindowGate, Refusal> {
    let gates = stage
        .apps
        .iter()
        .map(|a| {
            let decision = window::decide(
                windows,
                &a.application,
                &stage.namespace,
                now,
                SyncPurpose::Promotion,
            );
            promotion_gate(&decision, break_glass)
        })
        .collect();
    match merge_windows(gates) {
        WindowGate::Closed { by, opens_at } => Err(Refusal::WindowClosed {
            env: stage.env.to_string(),
            by,
            opens_at: opens_at.to_rfc3339(),
        }),
        open => Ok(open),
    }
}

#[cfg(test)]
mod tests;
