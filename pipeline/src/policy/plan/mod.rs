//! A promotion as a value. [`choose`] and [`plan`] are pure functions from the configuration,
//! one [`Snapshot`] of the GitOps state and records, the request and the time into a
//! [`PromotionPlan`]: the environments it walks and, for each, the gates with their decisions,
//! the exact values edit with what it was planned from, and the canary, deploy, smoke and
//! monitor steps. `promote --dry-run` prints it; the promote flow executes exactly it, re-deciding just
//! before each write only what time can change (the window, the approvals).
//! cargo-dist (`DistGraph`) and Terraform (`plan`, then `apply` of that plan) work this way.

mod canary;
mod refusal;
mod render;
mod sizing;
mod snapshot;

pub use canary::CanaryStep;
pub use refusal::Refusal;
pub use sizing::{AnalysisStep, error_rates, shortest_window};
pub use snapshot::Snapshot;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::audit::{CommitRecord, keys};
use crate::config::{EnvironmentConfig, PipelineConfig};
use crate::model::{Digest, EnvName, GitSha, Person, Reason, TargetKind};
use crate::policy::approval::{ApprovalRule, GateStatus, gate};
use crate::policy::freeze::{WindowGate, promotion_gate};
use crate::policy::scan::{RecordedScan, evidence};
use crate::policy::supply_chain::{self, Evidence};
use crate::policy::window::{self, SyncPurpose, SyncWindow};
use crate::scan::Counts;
use crate::values::Scalar;

fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// What was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub env: EnvName,
    /// Default: the build the previous environment runs.
    pub sha: Option<GitSha>,
    pub requested_by: Person,
    /// Set: pass a closed sync window, recording this reason.
    pub break_glass: Option<Reason>,
    /// Overrides the environments' monitoring duration.
    pub monitor: Option<Duration>,
}

/// The build to promote and the environments it walks, target last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub sha: GitSha,
    pub chain: Vec<EnvName>,
    /// The environment before the first of the chain: where the build must have run.
    pub source: EnvName,
}

/// Which build, through which environments: the target, and before it every environment
/// (after the first) that does not run the build yet.
pub fn choose(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    request: &Request,
) -> Result<Choice, Refusal> {
    let Some(previous) = config.previous(&request.env) else {
        return Err(Refusal::NotPromotable {
            env: request.env.to_string(),
        });
    };
    let sha = match &request.sha {
        Some(sha) => sha.clone(),
        None => snapshot
            .tag(&previous.name)
            .parse()
            .map_err(|_| Refusal::NothingToPromote {
                env: previous.name.to_string(),
            })?,
    };
    let mut chain = vec![request.env.clone()];
    while let Some(before) = config.previous(&chain[0]) {
        if config.previous(&before.name).is_none() || snapshot.tag(&before.name) == sha.as_str() {
            break;
        }
        chain.insert(0, before.name.clone());
    }
    let source = config
        .previous(&chain[0])
        .map(|p| p.name.clone())
        .unwrap_or_else(|| previous.name.clone());
    Ok(Choice { sha, chain, source })
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

/// The values edit of one environment.
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
    /// What the metric analysis judges the window by (`[environments.analysis]`) and the
    /// evidence it gets (the requests it needs, the load that sends them); `None`: health
    /// only.
    pub analysis: Option<AnalysisStep>,
}

/// One environment's part of a promotion, in the order it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stage {
    pub env: EnvName,
    /// The Argo CD Application and namespace sync windows match.
    pub application: String,
    pub namespace: String,
    pub window: WindowGate,
    pub approval: ApprovalStep,
    pub edit: ValuesEdit,
    /// Then, when set (a changed values file): one replica of the build beside the old ones,
    /// judged against them; a fail rolls this environment back before the rest rolls out.
    pub canary: Option<CanaryStep>,
    /// Then: wait until the target runs it, smoke-test every replica.
    #[serde(serialize_with = "duration_text")]
    pub sync_timeout: Duration,
    /// Then, when set: watch, and roll this environment back (only its values file) if it
    /// goes wrong. A failed rollout of a watched environment rolls back too.
    pub monitor: Option<MonitorStep>,
    /// The environment has an analysis, but no window to judge (`--monitor 0`): it is off.
    pub analysis_off: bool,
}

/// A whole promotion, planned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PromotionPlan {
    pub sha: GitSha,
    pub digest: Digest,
    /// The environment the build comes from.
    pub source: EnvName,
    pub requested_by: Person,
    /// The GitOps revision the plan was made at.
    pub tip: GitSha,
    pub planned_at: DateTime<Utc>,
    pub checks: Vec<Check>,
    pub stages: Vec<Stage>,
}

/// Everything a plan is made from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub config: &'a PipelineConfig,
    pub snapshot: &'a Snapshot,
    /// What the registry answered for the build: its digest, or `None` when it has no such
    /// image.
    pub digest: Option<&'a Digest>,
    /// The signatures and SBOM found for that digest, read when an environment of the
    /// promotion requires them; `None`: not read, which any such requirement refuses.
    pub supply_chain: Option<&'a Evidence>,
    pub now: DateTime<Utc>,
    /// Where the environments run: some steps (a canary) only the local target carries out.
    pub target: TargetKind,
}

/// Plans the promotion `choice` made for `request`: every refusal that can be known before a
/// write is found here.
pub fn plan(
    facts: Facts<'_>,
    request: &Request,
    choice: &Choice,
) -> Result<PromotionPlan, Refusal> {
    let Facts {
        config,
        snapshot,
        digest,
        supply_chain: found,
        now,
        target,
    } = facts;
    let sha = &choice.sha;
    let mut checks = Vec::new();
    let Some(digest) = digest else {
        return Err(Refusal::ImageNotFound {
            image: format!("{}:{sha}", config.image.repository),
        });
    };
    checks.push(Check {
        check: "registry",
        detail: format!("{}:{sha} is {digest}", config.image.repository),
    });
    if let Some(block) = snapshot.records.block(sha) {
        return Err(Refusal::Blocked {
            sha: sha.to_string(),
            by: block.by.to_string(),
            at: block.at.to_rfc3339(),
            reason: block.reason.to_string(),
        });
    }
    checks.push(Check {
        check: "not blocked",
        detail: format!("no rollback blocked {}", sha.short()),
    });
    if !ran(snapshot.history(&choice.source), sha) {
        return Err(Refusal::NotInPrevious {
            sha: sha.to_string(),
            env: choice.source.to_string(),
        });
    }
    checks.push(Check {
        check: "ran before",
        detail: format!("{} ran in {}", sha.short(), choice.source),
    });
    let found = found
        .cloned()
        .unwrap_or_else(|| Evidence::not_read(digest.clone()));
    let recorded = recorded_scan(snapshot.history(&config.first().name), sha);
    let mut stages = Vec::new();
    for name in &choice.chain {
        let env = environment(config, name);
        if let Some(max_age) = env.scan_max_age {
            evidence(&config.scan, recorded.as_ref(), now.timestamp(), max_age).map_err(
                |reason| Refusal::ScanEvidence {
                    env: name.to_string(),
                    sha: sha.to_string(),
                    reason,
                },
            )?;
            checks.push(Check {
                check: "scan evidence",
                detail: format!(
                    "{name}: a scan younger than {} passes the scan policy",
                    humantime::format_duration(max_age)
                ),
            });
        }
        if let Some(detail) = supply_chain::gate(name, config.requirements(name), digest, &found)? {
            checks.push(Check {
                check: "supply chain",
                detail,
            });
        }
        let mut stage = stage(config, snapshot, request, env, sha, digest, now)?;
        stage.canary = canary::step(env, target)?;
        (stage.monitor, stage.analysis_off) = sizing::monitor(env, request.monitor, target)?;
        stages.push(stage);
    }
    Ok(PromotionPlan {
        sha: sha.clone(),
        digest: digest.clone(),
        source: choice.source.clone(),
        requested_by: request.requested_by.clone(),
        tip: snapshot.tip.clone(),
        planned_at: now,
        checks,
        stages,
    })
}

fn environment<'c>(config: &'c PipelineConfig, name: &EnvName) -> &'c EnvironmentConfig {
    config
        .environments
        .iter()
        .find(|e| &e.name == name)
        .unwrap_or_else(|| config.first())
}

fn stage(
    config: &PipelineConfig,
    snapshot: &Snapshot,
    request: &Request,
    env: &EnvironmentConfig,
    sha: &GitSha,
    digest: &Digest,
    now: DateTime<Utc>,
) -> Result<Stage, Refusal> {
    let application = config.application(&env.name);
    let path = config.values_path(&env.name);
    let keys: Vec<KeyEdit> = [
        ("image.tag", sha.as_str()),
        ("image.digest", digest.as_str()),
    ]
    .into_iter()
    .map(|(key, to)| KeyEdit {
        key: key.to_owned(),
        from: snapshot
            .values(&env.name)
            .and_then(|d| d.get(key))
            .unwrap_or_default()
            .to_owned(),
        to: to.to_owned(),
    })
    .collect();
    let diff = match snapshot.values(&env.name) {
        Some(doc) => {
            let set: Vec<(&str, Scalar)> = keys
                .iter()
                .map(|k| (k.key.as_str(), Scalar::str(&k.to)))
                .collect();
            // A values file without these keys is refused when the write is tried; the plan
            // shows no diff for it.
            doc.with(&set)
                .map(|edited| diff(doc.text(), edited.text()))
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let decision = window::decide(
        &snapshot.windows,
        &application,
        &env.namespace,
        now,
        SyncPurpose::Promotion,
    );
    let rule = ApprovalRule {
        required: env.approvals,
        approvers: &env.approvers,
    };
    let approvals = snapshot.records.approvals_for(&env.name, sha);
    Ok(Stage {
        env: env.name.clone(),
        application,
        namespace: env.namespace.clone(),
        window: promotion_gate(&decision, request.break_glass.as_ref()),
        approval: ApprovalStep {
            required: env.approvals,
            approvers: env.approvers.clone(),
            status: gate(&rule, &env.name, sha, &request.requested_by, &approvals),
            timeout: env.approval_timeout,
        },
        edit: ValuesEdit { path, keys, diff },
        canary: None,
        sync_timeout: env.sync_timeout,
        monitor: None,
        analysis_off: false,
    })
}

/// Whether a commit in `history` put `sha` into the environment.
fn ran(history: &[CommitRecord], sha: &GitSha) -> bool {
    history
        .iter()
        .any(|c| c.trailer(keys::IMAGE_SHA) == Some(sha.as_str()))
}

/// The newest scan of `sha` recorded in the first environment's history.
pub fn recorded_scan(history: &[CommitRecord], sha: &GitSha) -> Option<RecordedScan> {
    history.iter().find_map(|c| {
        if c.trailer(keys::IMAGE_SHA) != Some(sha.as_str()) {
            return None;
        }
        Some(RecordedScan {
            time: c.time,
            all: c.trailer(keys::SCAN).and_then(Counts::parse),
            fixable: Counts::parse(c.trailer(keys::SCAN_FIXABLE)?)?,
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
    let decision = window::decide(
        windows,
        &stage.application,
        &stage.namespace,
        now,
        SyncPurpose::Promotion,
    );
    match promotion_gate(&decision, break_glass) {
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
