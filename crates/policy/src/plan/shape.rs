//! The plan's shape: what a promotion will check, edit, wait for and watch, per environment and per app, and the facts it is planned from. Plain data, serialised as `promote --dry-run --json` prints it.

use super::*;

pub(super) fn duration_text<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
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
