//! What a plan is made from: the GitOps state and records, read once at one tip.

use crate::window::SyncWindow;
use model::audit::CommitRecord;
use model::values::Document;
use model::{AppName, EnvName, GitSha, RecordSet};

/// The GitOps state and records a plan is made from, read once at one tip.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub tip: GitSha,
    /// Every app's values file of every environment at the tip, in promotion order.
    pub values: Vec<(AppName, EnvName, Document)>,
    /// Every app's values-file history of every environment at the tip, newest first.
    pub history: Vec<(AppName, EnvName, Vec<CommitRecord>)>,
    /// The sync windows of the AppProjects at the tip.
    pub windows: Vec<SyncWindow>,
    pub records: RecordSet,
}

impl Snapshot {
    pub fn values(&self, app: &AppName, env: &EnvName) -> Option<&Document> {
        self.values
            .iter()
            .find(|(a, e, _)| a == app && e == env)
            .map(|(_, _, d)| d)
    }

    /// The build `app`'s values name in `env` (empty when never deployed).
    pub fn tag(&self, app: &AppName, env: &EnvName) -> &str {
        self.values(app, env)
            .and_then(|d| d.get("image.tag"))
            .unwrap_or_default()
    }

    pub fn history(&self, app: &AppName, env: &EnvName) -> &[CommitRecord] {
        self.history
            .iter()
            .find(|(a, e, _)| a == app && e == env)
            .map(|(_, _, h)| h.as_slice())
            .unwrap_or_default()
    }
}
