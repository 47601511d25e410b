//! Records kept beside the desired state: promotion requests, approvals and blocked SHAs, as
//! JSON files on a side branch of the GitOps repository (`paktech-records`), where no syncer
//! looks. Durable, shared by every machine that reaches the repository, and audited by git
//! like everything else.
//!
//! Reading fails closed: a record that cannot be parsed, or that sits at a path that does not
//! match what it says (an approval for another build filed under this one), is an error that
//! names the file, never a record quietly skipped. A corrupt block must not make a blocked
//! build promotable.

use crate::gitops::{self, GitOpsRepo, Written};
use model::audit::CommitMessage;
use model::audit::CommitRecord;
use model::{
    AppName, Approval, Block, EnvName, GitSha, Person, PromotionRequest, Reason, RecordSet,
};

/// The side branch records live on.
pub const BRANCH: &str = "paktech-records";

/// Trailer naming what a records commit did.
pub const RECORD_ACTION: &str = "Record-Action";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    GitOps(#[from] gitops::Error),
    #[error(
        "the record {path} on the {BRANCH} branch of the GitOps repository (at {revision}) cannot be read: {problem}; nothing was written. Repair or remove it in a clone of the GitOps repository (`git switch {BRANCH}`), then run this again"
    )]
    Unreadable {
        path: String,
        revision: String,
        problem: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// What a record's path says it is about: `(env, sha)` for approvals and requests, `sha`
/// for blocks.
fn parse_record(path: &str, text: &str, set: &mut RecordSet) -> Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let json = |e: serde_json::Error| format!("not a valid record ({e})");
    match parts.as_slice() {
        ["approvals", env, sha, _] => {
            let a: Approval = serde_json::from_str(text).map_err(json)?;
            if a.env.as_str() != *env || a.sha.as_str() != *sha {
                return Err(format!(
                    "it approves {} for {} but is filed under {sha} for {env}",
                    a.sha, a.env
                ));
            }
            set.approvals.push(a);
        }
        ["requests", env, file] => {
            let r: PromotionRequest = serde_json::from_str(text).map_err(json)?;
            if r.env.as_str() != *env || format!("{}.json", r.sha) != *file {
                return Err(format!(
                    "it requests {} for {} but is filed as {env}/{file}",
                    r.sha, r.env
                ));
            }
            set.requests.push(r);
        }
        ["blocks", file] => {
            let b: Block = serde_json::from_str(text).map_err(json)?;
            if format!("{}.json", b.sha) != *file || b.app.is_some() {
                return Err(format!("it blocks {} but is filed as {file}", b.sha));
            }
            set.blocks.push(b);
        }
        ["blocks", app, file] => {
            let b: Block = serde_json::from_str(text).map_err(json)?;
            if format!("{}.json", b.sha) != *file
                || b.app.as_ref().map(|a| a.as_str()) != Some(*app)
            {
                return Err(format!(
                    "it blocks {} of {} but is filed as {app}/{file}",
                    b.sha,
                    b.app.as_ref().map_or("every app", |a| a.as_str())
                ));
            }
            set.blocks.push(b);
        }
        _ => return Err("no record is expected at this path".to_owned()),
    }
    Ok(())
}

impl<'a> Records<'a> {
    pub fn new(gitops: &'a GitOpsRepo) -> Self {
        Self { gitops }
    }

    /// Every record on the branch's tip (none when the branch does not exist yet).
    pub fn read(&self) -> Result<RecordSet> {
        let mut set = RecordSet::default();
        let Some(tip) = self.gitops.fetch_branch(BRANCH)? else {
            return Ok(set);
        };
        for (path, text) in self.gitops.files_under(&tip, "")? {
            parse_record(&path, &text, &mut set).map_err(|problem| Error::Unreadable {
                path,
                revision: tip.to_string(),
                problem,
            })?;
        }
        Ok(set)
    }

    fn put(&self, path: String, value: Option<String>, message: CommitMessage) -> Result<Written> {
        Ok(self.gitops.put_files(BRANCH, &[(path, value)], &message)?)
    }

    fn json(value: &impl serde::Serialize) -> String {
        // Serialising these plain structs cannot fail; an empty record would be refused on
        // the next read rather than pass silently.
        serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
    }

    pub fn add_approval(&self, approval: &Approval) -> Result<Written> {
        let message = CommitMessage::new(format!(
            "approve({}): {} by {}",
            approval.env, approval.sha, approval.approver
        ))
        .trailer(RECORD_ACTION, "approve")
        .trailer(model::audit::keys::ENVIRONMENT, approval.env.as_str())
        .trailer(model::audit::keys::IMAGE_SHA, approval.sha.as_str())
        .trailer("Approved-By", approval.approver.as_str())
        .trailer("Comment", approval.comment.as_deref().unwrap_or(""));
        self.put(
            format!(
                "approvals/{}/{}/{}.json",
                approval.env,
                approval.sha,
                slug(&approval.approver.key())
            ),
            Some(Self::json(approval)),
            message,
        )
    }

    pub fn add_request(&self, request: &PromotionRequest) -> Result<Written> {
        let message = CommitMessage::new(format!(
            "request({}): promote {} for {}",
            request.env, request.sha, request.requester
        ))
        .trailer(RECORD_ACTION, "request")
        .trailer(model::audit::keys::ENVIRONMENT, request.env.as_str())
        .trailer(model::audit::keys::IMAGE_SHA, request.sha.as_str())
        .trailer(model::audit::keys::REQUESTED_BY, request.requester.as_str());
        self.put(
            format!("requests/{}/{}.json", request.env, request.sha),
            Some(Self::json(request)),
            message,
        )
    }

    /// Where a block is filed: `blocks/<app>/<sha>.json`, or `blocks/<sha>.json` for a
    /// block from before apps were named.
    fn block_path(app: Option<&AppName>, sha: &GitSha) -> String {
        match app {
            Some(app) => format!("blocks/{app}/{sha}.json"),
            None => format!("blocks/{sha}.json"),
        }
    }

    pub fn add_block(&self, block: &Block) -> Result<Written> {
        let what = match &block.app {
            Some(app) => format!("{app}@{}", block.sha),
            None => block.sha.to_string(),
        };
        let message = CommitMessage::new(format!("block: {what}"))
            .trailer(RECORD_ACTION, "block")
            .trailer(
                model::audit::keys::APP,
                block.app.as_ref().map_or("", |a| a.as_str()),
            )
            .trailer(model::audit::keys::IMAGE_SHA, block.sha.as_str())
            .trailer("Reason", block.reason.as_str())
            .trailer(model::audit::keys::REQUESTED_BY, block.by.as_str());
        self.put(
            Self::block_path(block.app.as_ref(), &block.sha),
            Some(Self::json(block)),
            message,
        )
    }

    /// Lifts the block on `app`'s build `sha`, and a block from before apps were named on it.
    pub fn remove_block(
        &self,
        app: &AppName,
        sha: &GitSha,
        by: &Person,
        reason: &Reason,
    ) -> Result<Written> {
        let message = CommitMessage::new(format!("unblock: {app}@{sha}"))
            .trailer(RECORD_ACTION, "unblock")
            .trailer(model::audit::keys::APP, app.as_str())
            .trailer(model::audit::keys::IMAGE_SHA, sha.as_str())
            .trailer("Reason", reason.as_str())
            .trailer(model::audit::keys::REQUESTED_BY, by.as_str());
        Ok(self.gitops.put_files(
            BRANCH,
            &[
                (Self::block_path(Some(app), sha), None),
                (Self::block_path(None, sha), None),
            ],
            &message,
        )?)
    }

    /// Revokes every approval of `id` (a build, or a release's id) for `env`, because what
    /// they admitted was rolled back (`why`): promoting it there again needs new approvals.
    /// The approvers whose approvals went, with the commit; `None` when there were none.
    pub fn revoke_approvals(
        &self,
        env: &EnvName,
        id: &GitSha,
        why: &str,
    ) -> Result<Option<(Written, Vec<Person>)>> {
        let Some(tip) = self.gitops.fetch_branch(BRANCH)? else {
            return Ok(None);
        };
        let files = self
            .gitops
            .files_under(&tip, &format!("approvals/{env}/{id}/"))?;
        if files.is_empty() {
            return Ok(None);
        }
        let approvers: Vec<Person> = files
            .iter()
            .filter_map(|(_, text)| serde_json::from_str::<Approval>(text).ok())
            .map(|a| a.approver)
            .collect();
        let names: Vec<&str> = approvers.iter().map(Person::as_str).collect();
        let message = CommitMessage::new(format!("revoke({env}): the approvals of {id}"))
            .trailer(RECORD_ACTION, "revoke")
            .trailer(model::audit::keys::ENVIRONMENT, env.as_str())
            .trailer(model::audit::keys::IMAGE_SHA, id.as_str())
            .trailer("Approved-By", names.join(", "))
            .trailer("Reason", why);
        let deletions: Vec<(String, Option<String>)> =
            files.into_iter().map(|(path, _)| (path, None)).collect();
        let written = self.gitops.put_files(BRANCH, &deletions, &message)?;
        Ok(Some((written, approvers)))
    }

    /// The records branch's history, newest first.
    pub fn log(&self, limit: usize) -> Result<Vec<CommitRecord>> {
        Ok(match self.gitops.fetch_branch(BRANCH)? {
            Some(tip) => self.gitops.log(&tip, None, limit)?,
            None => Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn slugs() {
        assert_eq!(slug("Bob Smith"), "bob-smith");
        assert_eq!(slug("../../etc"), "------etc");
        assert_eq!(slug("   "), "someone");
    }

    fn check(path: &str, text: &str, expected: Result<usize, &str>) {
        let mut set = RecordSet::default();
        let got = parse_record(path, text, &mut set)
            .map(|()| set.approvals.len() + set.requests.len() + set.blocks.len());
        match (got, expected) {
            (Ok(n), Ok(m)) => assert_eq!(n, m, "{path}"),
            (Err(e), Err(want)) => assert!(e.contains(want), "{path}: {e}"),
            (got, want) => panic!("{path}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn records_are_read_or_refused() {
        let block = format!(
            r#"{{"sha":"{SHA}","reason":"bad","by":"ci","at":"2026-11-26T12:00:00Z","rollback":null}}"#
        );
        let approval = format!(
            r#"{{"sha":"{SHA}","env":"prod","approver":"bob","at":"2026-11-26T12:00:00Z","comment":null}}"#
        );
        check(&format!("blocks/{SHA}.json"), &block, Ok(1));
        check(&format!("approvals/prod/{SHA}/bob.json"), &approval, Ok(1));
        // Truncated, wrong shape, filed under another build or environment, unknown path.
        check(
            &format!("blocks/{SHA}.json"),
            &block[..40],
            Err("not a valid record"),
        );
        check(
            &format!("blocks/{SHA}.json"),
            "{}",
            Err("not a valid record"),
        );
        check(
            &format!("blocks/{}.json", "f".repeat(40)),
            &block,
            Err("but is filed as"),
        );
        check(
            &format!("approvals/staging/{SHA}/bob.json"),
            &approval,
            Err("but is filed under"),
        );
        check(
            &format!("approvals/prod/{SHA}/bob.json"),
            &approval.replace("\"bob\"", "\"b\\u202eob\""),
            Err("not a valid record"),
        );
        check("notes/x.json", "{}", Err("no record is expected"));
        // A block of one app's build is filed under the app, and nowhere else.
        let app_block = block.replace(
            "\"rollback\":null",
            "\"rollback\":null,\"app\":\"paktech-gateway\"",
        );
        check(
            &format!("blocks/paktech-gateway/{SHA}.json"),
            &app_block,
            Ok(1),
        );
        check(
            &format!("blocks/paktech-app/{SHA}.json"),
            &app_block,
            Err("of paktech-gateway but is filed as paktech-app"),
        );
        check(
            &format!("blocks/{SHA}.json"),
            &app_block,
            Err("but is filed as"),
        );
        check(
            &format!("blocks/paktech-app/{SHA}.json"),
            &block,
            Err("of every app but is filed as paktech-app"),
        );
    }
}
