//! The vocabulary of a rollout on a target that rolls out itself (the local one): what it
//! sees and what it may be told to do next. The rule that decides is `policy::rollout`.

/// One replica as the rollout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaState {
    pub name: String,
    pub running: bool,
    /// Made from the desired spec (image, digest, variables, limits).
    pub current: bool,
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStep {
    /// Clear a replica that is not running: it serves nothing.
    RemoveStopped(String),
    /// Start one replica of the desired spec and wait until it serves.
    Start,
    /// Retire an old replica (another of the desired spec took its place).
    Retire(String),
    /// Remove a current replica beyond the count asked for.
    ScaleDown(String),
}

/// The rule that picks the next step: `(replicas, wanted, min_available, can_start)`.
pub type RolloutRule = fn(&[ReplicaState], u32, u32, bool) -> Option<RolloutStep>;

/// What kind of target an environment runs on, as a plan needs to know it: whether the
/// pipeline carries rollouts out step by step (local) or Argo CD does (kube).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Local,
    Kube,
}
