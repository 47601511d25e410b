//! Records kept beside the desired state (on the GitOps repository's records branch):
//! who asked for a promotion, who approved it, and which builds are blocked.

use chrono::{DateTime, Utc};

use super::{AppName, EnvName, GitSha, Person, Reason};

/// One recorded approval, bound to one build and one environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Approval {
    pub sha: GitSha,
    pub env: EnvName,
    pub approver: Person,
    pub at: DateTime<Utc>,
    pub comment: Option<String>,
}

/// Someone asked for `sha` to be promoted to `env`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromotionRequest {
    /// The build, or for a release of several apps its id (what approvals bind to).
    pub sha: GitSha,
    pub env: EnvName,
    pub requester: Person,
    pub at: DateTime<Utc>,
    pub run_id: String,
    /// What a release moves, `app@sha` each, so an approver sees what they approve.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builds: Vec<String>,
}

/// `app`'s build `sha` may not be promoted: it was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    pub sha: GitSha,
    /// The app whose build is blocked; `None` (a block from before apps were named):
    /// every app's build of that commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppName>,
    pub reason: Reason,
    pub by: Person,
    pub at: DateTime<Utc>,
    /// The rollback commit that reverted it, when a rollback blocked it.
    pub rollback: Option<GitSha>,
}

/// Every record, read in one go from one revision of the records branch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSet {
    pub approvals: Vec<Approval>,
    pub requests: Vec<PromotionRequest>,
    pub blocks: Vec<Block>,
}

impl RecordSet {
    /// The approvals of `sha` for `env`.
    pub fn approvals_for(&self, env: &EnvName, sha: &GitSha) -> Vec<Approval> {
        self.approvals
            .iter()
            .filter(|a| &a.env == env && &a.sha == sha)
            .cloned()
            .collect()
    }

    /// The recorded request to promote `sha` to `env`.
    pub fn request(&self, env: &EnvName, sha: &GitSha) -> Option<&PromotionRequest> {
        self.requests
            .iter()
            .find(|r| &r.env == env && &r.sha == sha)
    }

    /// The block on `app`'s build `sha`, if it is blocked.
    pub fn block(&self, app: &AppName, sha: &GitSha) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|b| &b.sha == sha && b.app.as_ref().is_none_or(|a| a == app))
    }
}
