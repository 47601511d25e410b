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

/// The most synthetic requests per second the load sends through the API server's pod proxy
/// (the kube target). The load sends one request at a time, each through the API server as
/// the pipeline's probes and `/metrics` reads do, under the same identity, so it competes
/// with them in one API Priority and Fairness flow. Kubernetes' own clients hold themselves
/// to about this: client-go's default client-side limit is 5 requests/s (burst 10), which
/// kubectl keeps, and kube-controller-manager's is 20/s for a whole control loop. With the
/// default `--max-requests-inflight` 400 and `--max-mutating-requests-inflight` 200, a user's
/// requests share the `global-default` priority level's nominal 20 of 245 shares, about 49
/// seats; at 10/s and at most the 5 s probe timeout per request, the load holds at most one
/// of them at a time, and a round's probes (one per pod every `monitor_interval`) never queue
/// behind it. `docs/operations.md`, "Metric analysis", has the figures.
pub const MAX_PROXY_LOAD_RATE: f64 = 10.0;

/// The most synthetic load an environment may ask for on the local target (requests per
/// second); `[environments.analysis] load_rate` is refused above it.
pub const MAX_LOAD_RATE: f64 = 200.0;

impl TargetKind {
    /// The most synthetic requests per second this target takes: the configuration's bound
    /// on the local target (plain HTTP to published ports), [`MAX_PROXY_LOAD_RATE`] through
    /// the pod proxy.
    pub fn max_load_rate(self) -> f64 {
        match self {
            Self::Local => MAX_LOAD_RATE,
            Self::Kube => MAX_PROXY_LOAD_RATE,
        }
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Kube => "kube",
        })
    }
}
