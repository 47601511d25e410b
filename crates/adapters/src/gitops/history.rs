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
            records.push(record(&commit));
        }
        Ok(records)
    }

    /// The newest commit that changed each of `paths` on the first-parent line from `tip` back
    /// to `stop` (excluded; the root when `None`), found in one walk that ends once every path
    /// is found: `None` for a path no commit there changed (with `stop`, its last change is
    /// the one at `stop`). `Ok(None)` when `stop` is not on that line: ask again without it.
    pub fn last_changes(
        &self,
        tip: &GitSha,
        paths: &[String],
        stop: Option<&GitSha>,
    ) -> Result<Option<Vec<Option<CommitRecord>>>> {
        let repo = self.repo()?;
        let stop = stop.map(oid).transpose()?;
        let read = |id: Oid| {
            repo.find_commit(id)
                .map_err(git(format!("cannot read commit {id}")))
        };
        let mut found: Vec<Option<CommitRecord>> = vec![None; paths.len()];
        let mut commit = read(oid(tip)?)?;
        // Each path's blob here; moving down the line, the parent's become the next `here`.
        let mut here: Vec<Option<Oid>> = paths.iter().map(|p| entry_id(&commit, p)).collect();
        while Some(commit.id()) != stop && found.iter().any(Option::is_none) {
            let parent = match commit.parent_id(0) {
                Ok(id) => Some(read(id)?),
                Err(_) => None,
            };
            let before: Vec<Option<Oid>> = paths
                .iter()
                .zip(&found)
                .map(|(path, done)| match (done, &parent) {
                    (None, Some(parent)) => entry_id(parent, path),
                    _ => None,
                })
                .collect();
            for ((done, now), then) in found.iter_mut().zip(&here).zip(&before) {
                if done.is_none() && now != then {
                    *done = Some(record(&commit));
                }
            }
            match parent {
                Some(parent) => (commit, here) = (parent, before),
                // The root, and `stop` was never met: it is not on this line.
                None if stop.is_some() && found.iter().any(Option::is_none) => return Ok(None),
                None => break,
            }
        }
        Ok(Some(found))
    }

    /// Each commit on the first-parent line from `tip` back to `stop` (excluded; the root when
    /// `None`), message parsed, through `map`, newest first; and how many commits were walked.
    /// `Ok(None)` when `stop` is not on that line (an ancestor only through a merge's other
    /// parent): the caller reads from the root instead.
    ///
    /// Built for a whole history (the delivery metrics' first read walks 100,000 commits):
    /// - the line is followed commit by commit, each read once: a revwalk reads every commit
    ///   to find its parents and `find_commit` then reads it again for its message, which was
    ///   most of the time a read took;
    /// - this thread reads while a second one parses the messages and maps them, so on two
    ///   cores the parsing costs next to nothing; a batch's messages share one buffer, so no
    ///   allocation crosses the threads per commit.
    pub fn walk<T: Send>(
        &self,
        tip: &GitSha,
        stop: Option<&GitSha>,
        map: impl Fn(CommitRecord) -> Option<T> + Send,
    ) -> Result<Option<(usize, Vec<T>)>> {
        const BATCH: usize = 512;
        let repo = self.repo()?;
        let stop = stop.map(oid).transpose()?;
        let mut next = Some(oid(tip)?);
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel::<Batch>(8);
            let mapper = scope.spawn(move || {
                let mut mapped = Vec::new();
                for batch in receive {
                    mapped.extend(batch.records().filter_map(&map));
                }
                mapped
            });
            let mut walked = 0;
            let walked_all = (|| -> Result<()> {
                let mut batch = Batch::with_capacity(BATCH);
                while let Some(id) = next.filter(|id| Some(*id) != stop) {
                    let commit = repo
                        .find_commit(id)
                        .map_err(git(format!("cannot read commit {id}")))?;
                    batch.push(&commit);
                    walked += 1;
                    next = commit.parent_id(0).ok();
                    if batch.len() == BATCH
                        && send
                            .send(std::mem::replace(&mut batch, Batch::with_capacity(BATCH)))
                            .is_err()
                    {
                        break;
                    }
                }
                let _ = send.send(batch);
                Ok(())
            })();
            drop(send);
            let mapped = mapper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            walked_all?;
            // The root reached without meeting `stop`: it is not on the line.
            Ok((stop.is_none() || next.is_some()).then_some((walked, mapped)))
        })
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

/// What the walk reads of some commits, parsed into [`CommitRecord`]s on the mapping thread;
/// their authors and messages share one buffer.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    commits: Vec<Read>,
}

struct Read {
    id: Oid,
    parent: Option<Oid>,
    time: i64,
    author: std::ops::Range<usize>,
    message: std::ops::Range<usize>,
}

impl Batch {
    fn with_capacity(commits: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(commits * 256),
            commits: Vec::with_capacity(commits),
        }
    }

    fn len(&self) -> usize {
        self.commits.len()
    }

    fn push(&mut self, commit: &git2::Commit<'_>) {
        let mut keep = |bytes: &[u8]| {
            let start = self.bytes.len();
            self.bytes.extend_from_slice(bytes);
            start..self.bytes.len()
        };
        let author = keep(commit.author().name_bytes());
        let message = keep(commit.message_bytes());
        self.commits.push(Read {
            id: commit.id(),
            parent: commit.parent_id(0).ok(),
            time: commit.time().seconds(),
            author,
            message,
        });
    }

    fn records(&self) -> impl Iterator<Item = CommitRecord> + '_ {
        self.commits.iter().map(|read| {
            let text = |range: &std::ops::Range<usize>| {
                String::from_utf8_lossy(&self.bytes[range.clone()])
            };
            let message = CommitMessage::parse(&text(&read.message));
            CommitRecord {
                revision: sha(read.id),
                parent: read.parent.map(sha),
                time: read.time,
                author: text(&read.author).into_owned(),
                subject: message.subject,
                trailers: message.trailers,
            }
        })
    }
}

/// One commit as [`GitOpsRepo::log`] and the walk record it.
fn record(commit: &git2::Commit<'_>) -> CommitRecord {
    let mut batch = Batch::default();
    batch.push(commit);
    batch
        .records()
        .next()
        .unwrap_or_else(|| unreachable!("a batch of one commit has one record"))
}
