//! Why a promotion is refused before anything is written (exit 2 or 3, see the README).

/// Why a promotion is refused before anything is written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(clippy::large_enum_variant)]
pub enum Refusal {
    #[error(
        "{env} is the first environment: builds reach it through `cargo xtask ci`, not promote"
    )]
    NotPromotable { env: String },
    #[error("{app} runs no build in {env} yet; promote needs --sha or a build running there")]
    NothingToPromote { app: String, env: String },
    #[error(
        "every app in {env} already runs what {from} runs: nothing to promote (name one with --app, or a build with --sha)"
    )]
    UpToDate { env: String, from: String },
    #[error(
        "{env} has a canary, which moves one app at a time, and this release moves {apps}; promote them one by one with --app"
    )]
    CanaryRelease { env: String, apps: String },
    #[error("{app}: {refusal}; the release is refused, nothing was written")]
    App {
        app: String,
        #[source]
        refusal: Box<Refusal>,
    },
    #[error("{image} is not in the registry; build and push it first (`cargo xtask ci`)")]
    ImageNotFound { image: String },
    #[error(
        "{sha} is blocked since {at} by {by}: {reason}; lift it with `cargo xtask unblock --sha {sha} --reason TEXT`"
    )]
    Blocked {
        sha: String,
        by: String,
        at: String,
        reason: String,
    },
    #[error(
        "{sha} never ran in {env}; promote it there first (`cargo xtask promote --env {env} --sha {sha}`)"
    )]
    NotInPrevious { sha: String, env: String },
    #[error("{env} needs scan evidence for {sha}: {reason}")]
    ScanEvidence {
        env: String,
        sha: String,
        reason: String,
    },
    #[error(
        "{env} is in a sync freeze ({by}) until {opens_at}; wait, or pass --break-glass --reason TEXT"
    )]
    WindowClosed {
        env: String,
        by: String,
        opens_at: String,
    },
    #[error(
        "{env} has a canary (`canary` in pipeline.toml), but on the {target} target Argo CD rolls out, not the pipeline: a canary there is Argo Rollouts' job (docs/operations.md, \"Canary\"); or remove `canary` from {env}'s settings"
    )]
    CanaryUnsupported { env: String, target: String },
    #[error(
        "{env} takes only signed builds: {digest} has no signature; sign it in `cargo xtask ci` (set PAKTECH_SIGNING_KEY or PAKTECH_SIGNING_KEY_FILE to a key whose public half is in [supply_chain] public_keys)"
    )]
    Unsigned { env: String, digest: String },
    #[error(
        "{env} takes only builds signed by a configured key: no signature of {digest} passes ({reasons}); sign the build with a key listed in [supply_chain] public_keys, or add its public key there"
    )]
    SignatureRejected {
        env: String,
        digest: String,
        reasons: String,
    },
    #[error(
        "{env} requires an SBOM: none is attached to {digest}; build it with `cargo xtask ci`, which attaches one"
    )]
    NoSbom { env: String, digest: String },
    #[error(
        "{env} takes only an SBOM the build signed: no CycloneDX attestation of {digest} vouches for the SBOM stored beside it ({reasons}); rebuild with `cargo xtask ci` and a signing key, which attests the SBOM it attaches"
    )]
    SbomNotAttested {
        env: String,
        digest: String,
        reasons: String,
    },
    #[error(
        "{env} takes only builds with signed provenance from an accepted builder: none for {digest} passes ({reasons}); build it with the builder {env} accepts (`builders` in pipeline.toml), or see `cargo xtask verify`"
    )]
    NoProvenance {
        env: String,
        digest: String,
        reasons: String,
    },
    #[error(
        "cannot read the supply-chain evidence (signatures, SBOM, attestations) of {digest} for {env}: {problem}; nothing is pinned without it, retry when the store answers"
    )]
    EvidenceUnreadable {
        env: String,
        digest: String,
        problem: String,
    },
    #[error(
        "{env}'s {what} of {} cannot reach the analysis' minimum of {minimum} requests: even at the {target} target's most synthetic load ({} requests/s) it holds {reached}; watch at least {shortest} (`monitor` in pipeline.toml, or --monitor {shortest}), or turn analysis off with --monitor 0 (docs/operations.md, \"Picking a window\")",
        humantime::format_duration(*window),
        target.max_load_rate(),
        shortest = humantime::format_duration(*shortest)
    )]
    WindowTooShort {
        env: String,
        what: &'static str,
        window: std::time::Duration,
        minimum: u64,
        target: model::TargetKind,
        reached: u64,
        shortest: std::time::Duration,
    },
    #[error(
        "{env}'s analysis.load_rate of {rate} requests/s is more than the {target} target takes ({bound}/s: through the API server's pod proxy the load would slow the pipeline's own probes); expected at most {bound}"
    )]
    LoadAboveBound {
        env: String,
        rate: f64,
        bound: f64,
        target: model::TargetKind,
    },
}

impl Refusal {
    /// This refusal, naming `app` where several apps are configured (a refusal for one app
    /// refuses the release).
    pub fn for_app(self, app: &model::AppName, apps: usize) -> Self {
        if apps > 1 {
            Self::App {
                app: app.to_string(),
                refusal: Box::new(self),
            }
        } else {
            self
        }
    }

    /// The refusal itself, without the app it names.
    pub fn inner(&self) -> &Self {
        match self {
            Self::App { refusal, .. } => refusal.inner(),
            other => other,
        }
    }
}
