//! Records kept beside the desired state: promotion requests, approvals and blocked SHAs, as
//! JSON files on a side branch of the GitOps repository (`paktech-records`), where no syncer
//! looks. Durable, shared by every machine that reaches the repository, and audited by git
//! like everything else.

use chrono::{DateTime, Utc};

use crate::adapters::gitops::{CommitRecord, GitOpsRepo, Result, Written};
use crate::audit::CommitMessage;
use crate::model::{EnvName, GitSha};
use crate::policy::approval::Approval;

/// The side branch records live on.
pub const BRANCH: &str = "paktech-records";

/// Trailer naming what a records commit did.
pub const RECORD_ACTION: &str = "Record-Action";

/// Someone asked for `sha` to be promoted to `env`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PromotionRequest {
    pub sha: GitSha,
    pub env: EnvName,
    pub requester: String,
    pub at: DateTime<Utc>,
    pub run_id: String,
}

/// `sha` may not be promoted: it was rolled back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    pub sha: GitSha,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
    /// The rollback commit that reverted it, when a rollback blocked it.
    pub rollback: Option<GitSha>,
}

/// The records of one GitOps repository.
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    gitops: &'a GitOpsRepo,
}

/// A file name for a person: lowercase letters, digits and '-' only.
fn slug(name: &str) -> String {
    let slug: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if slug.trim_matches('-').is_empty() {
        "someone".to_owned()
    } else {
        slug
    }
}

impl<'a> Records<'a> {
    pub fn new(gitops: &'a GitOpsRepo) -> Self {
        Self { gitops }
    }

    fn read_all<T: serde::de::DeserializeOwned>(&self, prefix: &str) -> Result<Vec<T>> {
        let Some(tip) = self.gitops.fetch_branch(BRANCH)? else {
            return Ok(Vec::new());
        };
        Ok(self
            .gitops
            .files_under(&tip, prefix)?
            .into_iter()
            .filter_map(|(path, text)| match serde_json::from_str(&text) {
                Ok(record) => Some(record),
                Err(err) => {
                    tracing::warn!(path, %err, "ignoring an unreadable record");
                    None
                }
            })
            .collect())
    }

    fn put(&self, path: String, value: Option<String>, message: CommitMessage) -> Result<Written> {
        self.gitops.put_files(BRANCH, &[(path, value)], &message)
    }

    fn json(value: &impl serde::Serialize) -> String {
        serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
    }

    /// Every approval of `sha` for `env`.
    pub fn approvals(&self, env: &EnvName, sha: &GitSha) -> Result<Vec<Approval>> {
        self.read_all(&format!("approvals/{env}/{sha}/"))
    }

    pub fn add_approval(&self, approval: &Approval) -> Result<Written> {
        let message = CommitMessage::new(format!(
            "approve({}): {} by {}",
            approval.env, approval.sha, approval.approver
        ))
        .trailer(RECORD_ACTION, "approve")
        .trailer(crate::audit::keys::ENVIRONMENT, approval.env.as_str())
        .trailer(crate::audit::keys::IMAGE_SHA, approval.sha.as_str())
        .trailer("Approved-By", &approval.approver)
        .trailer("Comment", approval.comment.as_deref().unwrap_or(""));
        self.put(
            format!(
                "approvals/{}/{}/{}.json",
                approval.env,
                approval.sha,
                slug(&approval.approver)
            ),
            Some(Self::json(approval)),
            message,
        )
    }

    /// The recorded request to promote `sha` to `env`, if any.
    pub fn request(&self, env: &EnvName, sha: &GitSha) -> Result<Option<PromotionRequest>> {
        Ok(self
            .read_all(&format!("requests/{env}/{sha}.json"))?
            .into_iter()
            .next())
    }

    pub fn add_request(&self, request: &PromotionRequest) -> Result<Written> {
        let message = CommitMessage::new(format!(
            "request({}): promote {} for {}",
            request.env, request.sha, request.requester
        ))
        .trailer(RECORD_ACTION, "request")
        .trailer(crate::audit::keys::ENVIRONMENT, request.env.as_str())
        .trailer(crate::audit::keys::IMAGE_SHA, request.sha.as_str())
        .trailer(crate::audit::keys::REQUESTED_BY, &request.requester);
        self.put(
            format!("requests/{}/{}.json", request.env, request.sha),
            Some(Self::json(request)),
            message,
        )
    }

    /// The block on `sha`, if it is blocked.
    pub fn block(&self, sha: &GitSha) -> Result<Option<Block>> {
        Ok(self
            .read_all(&format!("blocks/{sha}.json"))?
            .into_iter()
            .next())
    }

    pub fn add_block(&self, block: &Block) -> Result<Written> {
        let message = CommitMessage::new(format!("block: {}", block.sha))
            .trailer(RECORD_ACTION, "block")
            .trailer(crate::audit::keys::IMAGE_SHA, block.sha.as_str())
            .trailer("Reason", &block.reason)
            .trailer(crate::audit::keys::REQUESTED_BY, &block.by);
        self.put(
            format!("blocks/{}.json", block.sha),
            Some(Self::json(block)),
            message,
        )
    }

    pub fn remove_block(&self, sha: &GitSha, by: &str, reason: &str) -> Result<Written> {
        let message = CommitMessage::new(format!("unblock: {sha}"))
            .trailer(RECORD_ACTION, "unblock")
            .trailer(crate::audit::keys::IMAGE_SHA, sha.as_str())
            .trailer("Reason", reason)
            .trailer(crate::audit::keys::REQUESTED_BY, by);
        self.put(format!("blocks/{sha}.json"), None, message)
    }

    /// The records branch's history, newest first.
    pub fn log(&self, limit: usize) -> Result<Vec<CommitRecord>> {
        match self.gitops.fetch_branch(BRANCH)? {
            Some(tip) => self.gitops.log(&tip, None, limit),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Bob Smith"), "bob-smith");
        assert_eq!(slug("../../etc"), "------etc");
        assert_eq!(slug("   "), "someone");
    }
}
