//! Reading the GitOps history: the log of one path, a walk of every commit, ancestry.

use super::*;

impl GitOpsRepo {
    /// Commits on the branch, newest first, from `revision` back; only those touching `path`
    /// when given; at most `limit`.
    pub fn log(
        &self,
        revision: &GitSha,
        path: Option<&str>,
        limit: usize,
    ) -> Result<Vec<CommitRecord>> {
        let repo = self.repo()?;
        let mut walk = repo.revwalk().map_err(git("cannot walk the history"))?;
        walk.push(oid(revision)?)
            .map_err(git("cannot walk the history"))?;
        walk.simplify_first_parent()
            .map_err(git("cannot walk the history"))?;
        let mut records = Vec::new();
        for id in walk {
            if records.len() >= limit {
                break;
            }
            let id = id.map_err(git("cannot walk the history"))?;
            let commit = repo
                .find_commit(id)
                .map_err(git(format!("cannot read commit {id}")))?;
            if let Some(path) = path {
                let here = entry_id(&commit, path);
                let before = commit.parent(0).ok().and_then(|p| entry_id(&p, path));
                if here == before {
                    continue;
                }
            }
            let message = CommitMessage::parse(commit.message().unwrap_or_default());
            records.push(CommitRecord {
                revision: sha(id),
                parent: commit.parent_id(0).ok().map(sha),
                time: commit.time().seconds(),
                author: commit.author().name().unwrap_or_default().to_owned(),
                subject: message.subject,
                trailers: message.trailers,
            });
        }
        Ok(records)
    }

    /// Hands each commit on the first-parent line from `tip` back to `stop` (excluded; the
    /// root when `None`) to `visit`, newest first, message parsed; reads nothing else of it.
    pub fn walk(
        &self,
        tip: &GitSha,
        stop: Option<&GitSha>,
        mut visit: impl FnMut(CommitRecord),
    ) -> Result<()> {
        let repo = self.repo()?;
        let mut walk = repo.revwalk().map_err(git("cannot walk the history"))?;
        walk.push(oid(tip)?)
            .map_err(git("cannot walk the history"))?;
        if let Some(stop) = stop {
            walk.hide(oid(stop)?)
                .map_err(git(format!("cannot stop the walk at {stop}")))?;
        }
        walk.simplify_first_parent()
            .map_err(git("cannot walk the history"))?;
        for id in walk {
            let id = id.map_err(git("cannot walk the history"))?;
            let commit = repo
                .find_commit(id)
                .map_err(git(format!("cannot read commit {id}")))?;
            let message = CommitMessage::parse(&String::from_utf8_lossy(commit.message_bytes()));
            visit(CommitRecord {
                revision: sha(id),
                parent: commit.parent_id(0).ok().map(sha),
                time: commit.time().seconds(),
                author: String::from_utf8_lossy(commit.author().name_bytes()).into_owned(),
                subject: message.subject,
                trailers: message.trailers,
            });
        }
        Ok(())
    }

    /// Whether `ancestor` is `revision` or one of its ancestors (false when the mirror does
    /// not hold it, as after history was rewritten and collected).
    pub fn is_ancestor(&self, ancestor: &GitSha, revision: &GitSha) -> Result<bool> {
        let repo = self.repo()?;
        let (a, r) = (oid(ancestor)?, oid(revision)?);
        if a == r {
            return Ok(true);
        }
        if repo.find_commit(a).is_err() {
            return Ok(false);
        }
        repo.graph_descendant_of(r, a).map_err(git(format!(
            "cannot tell whether {ancestor} is an ancestor of {revision}"
        )))
    }
}
