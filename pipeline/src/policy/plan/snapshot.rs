//! What a plan is made from: the GitOps state and records, read once at one tip.

use crate::audit::CommitRecord;
use crate::model::{EnvName, GitSha, RecordSet};
use crate::policy::window::SyncWindow;
use crate::values::Document;

/// The GitOps state and records a plan is made from, read once at one tip.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub tip: GitSha,
    /// Every environment's values file at the tip, in promotion order.
    pub values: Vec<(EnvName, Document)>,
    /// Every environment's values-file history at the tip, newest first.
    pub history: Vec<(EnvName, Vec<CommitRecord>)>,
    /// The sync windows of the AppProject at the tip.
    pub windows: Vec<SyncWindow>,
    pub records: RecordSet,
}

impl Snapshot {
    pub fn values(&self, env: &EnvName) -> Option<&Document> {
        self.values.iter().find(|(e, _)| e == env).map(|(_, d)| d)
    }

    /// The build an environment's values name (empty when never deployed).
    pub fn tag(&self, env: &EnvName) -> &str {
        self.values(env)
            .and_then(|d| d.get("image.tag"))
            .unwrap_or_default()
    }

    pub fn history(&self, env: &EnvName) -> &[CommitRecord] {
        self.history
            .iter()
            .find(|(e, _)| e == env)
            .map(|(_, h)| h.as_slice())
            .unwrap_or_default()
    }
}
