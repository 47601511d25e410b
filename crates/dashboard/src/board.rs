//! What the page shows, gathered at one moment: plain data (`gather.rs` reads it, `view.rs`
//! and the cells draw it).

/// How many history events the timeline shows.
pub const TIMELINE: usize = 50;
/// How many builds the scan table shows.
pub const SCANS: usize = 10;

/// Everything the page shows, gathered at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// `local`, `kind` or `aks`.
    pub target: String,
    pub gitops_url: String,
    pub tip: String,
    /// One per app and environment: app by app in dependency order, each app's
    /// environments in promotion order.
    pub lanes: Vec<Lane>,
    /// Per app, per pair of neighbouring environments: what of that app can move into the
    /// second (app by app, as the lanes).
    pub moves: Vec<Move>,
    /// Per pair of neighbouring environments, where several apps are configured: what
    /// `promote --env <to>` would move as one release.
    pub releases: Vec<Release>,
    pub timeline: Vec<Event>,
    pub scans: Vec<ScanLine>,
    /// A branch moved and the moves are still the previous plan's, being made again.
    pub replanning: bool,
    /// The delivery figures, or why they cannot be read (`None`: not read).
    pub delivery: Option<Result<super::delivery::Panel, String>>,
}

/// One app in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub app: String,
    pub env: String,
    pub sha: String,
    pub digest: String,
    pub ready: usize,
    pub desired: u32,
    pub replicas: Vec<Replica>,
    pub urls: Vec<String>,
    pub last_change: Option<Change>,
    /// The build's `Scan-Summary`, when the first environment's history recorded one.
    pub scan: Option<String>,
    /// What the gates proved about the build (`None`: no build, or not read yet).
    pub trust: Option<super::trust::Trust>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub name: String,
    pub healthy: bool,
    pub build: Option<String>,
    pub problem: Option<String>,
}

/// The newest commit that changed a lane's values file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: String,
    pub time: String,
    pub author: String,
    pub subject: String,
}

/// What can move of one app from one environment into the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub app: String,
    pub from: String,
    pub to: String,
    /// The build that would move, when there is one.
    pub sha: Option<String>,
    pub state: MoveState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveState {
    /// The next lane already runs the build.
    UpToDate,
    /// Nothing stops it: `promote` would write now.
    Ready,
    /// One or more things stop it, as the planner said.
    Stopped(Vec<Stop>),
}

/// What `promote --env <to>` (no `--app`) would do now: the release of every app whose
/// build differs from the previous environment's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub from: String,
    pub to: String,
    /// The apps it moves, in dependency order (empty when up to date or refused early).
    pub apps: Vec<ReleaseApp>,
    pub state: ReleaseState,
}

/// One app's build in a release: what `to` runs now (empty: nothing yet) and what it would run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseApp {
    pub app: String,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseState {
    /// Every app's build already runs in `to`.
    UpToDate,
    /// Nothing stops it: `promote` would write it now, one commit.
    Ready,
    /// Window or approvals stop it, as the planner said.
    Stopped(Vec<Stop>),
    /// The planner refused it, for the app it names.
    Refused { app: Option<String>, stop: Stop },
}

/// One thing that stops a promotion, in the planner's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Approvals missing.
    Approval {
        have: Vec<String>,
        need: u32,
        may_approve: String,
        /// Whether somebody asked to promote it (only a requested build can be approved).
        requested: bool,
    },
    /// The sync window is closed.
    Window { by: String, opens_at: String },
    /// A rollback blocked the build.
    Blocked {
        by: String,
        at: String,
        reason: String,
    },
    /// Any other refusal (scan evidence, not run before, no image, nothing to promote).
    Refused { kind: &'static str, reason: String },
    /// The registry could not be asked.
    Unknown { reason: String },
}

/// One timeline entry: a history event, as `cargo xtask history` reads it.
pub type Event = flow::history::HistoryEvent;

/// One build's recorded scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLine {
    pub app: String,
    pub sha: String,
    pub time: String,
    pub summary: String,
}
