//! The GitOps repository (git2): read a file at a revision, commit an edit with trailers,
//! push it with compare-and-swap (re-applying the edit on the new tip when the remote moved),
//! and read the history back.
//!
//! Work happens in a bare local mirror with no work tree: an edit becomes a blob, a tree and a
//! commit built straight from the fetched tip, so nothing half-written is ever on disk where a
//! syncer could see it. Each operation holds a lock on the mirror, so pipeline runs on one
//! machine queue behind each other rather than race.
//!
//! Longer than 400 lines: the write path (fetch, read at the tip, edit, commit, compare-and-swap
//! push, re-apply on rejection) reads as one sequence; fetching, the in-memory commit and the
//! history are in files of their own.

mod commit;
mod fetch;
mod history;
mod pack;
mod push;
mod seed;

use std::path::{Path, PathBuf};
use std::time::Duration;

use git2::{FetchOptions, Oid, Repository};

use model::audit::{CommitMessage, CommitRecord};
use model::values::{self, Document, Scalar};
use model::{GitSha, Secret};

pub use seed::seed_bare_repository;

use commit::*;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the GitOps mirror at {}: {source}", path.display())]
    Mirror {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot create the GitOps mirror's folder {}: {source}", path.display())]
    CreateMirror {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock the GitOps mirror at {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch {branch} from the GitOps remote {url}: {source}")]
    Fetch {
        url: String,
        branch: String,
        #[source]
        source: git2::Error,
    },
    #[error("the GitOps remote {url} has no branch {branch}")]
    NoBranch { url: String, branch: String },
    #[error("{path} does not exist at GitOps revision {revision}")]
    NotFound { path: String, revision: String },
    #[error("GitOps repository: {context}: {source}")]
    Git {
        context: String,
        #[source]
        source: git2::Error,
    },
    #[error(transparent)]
    Values(#[from] values::Error),
    #[error(
        "conflict in {path}: {key} was {base:?} when this change was planned, someone set it to {found:?} since; this change wanted {wanted:?}. Nothing was written"
    )]
    Conflict {
        path: String,
        key: String,
        base: String,
        found: String,
        wanted: String,
    },
    #[error("cannot push to the GitOps remote {url}: {source}")]
    Push {
        url: String,
        #[source]
        source: git2::Error,
    },
    #[error(
        "the GitOps remote {url} kept moving: {attempts} pushes were rejected; nothing was written"
    )]
    Contended { url: String, attempts: u32 },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> Error {
    let context = context.into();
    move |source| Error::Git { context, source }
}

/// Who commits, and where the repository lives.
#[derive(Debug, Clone)]
pub struct GitOpsSettings {
    /// The remote: a path, `file://`, ssh or https URL.
    pub url: String,
    pub branch: String,
    pub author_name: String,
    pub author_email: String,
    pub push_attempts: u32,
    /// Token for https remotes (from `GITOPS_TOKEN`); never printed.
    pub token: Option<Secret>,
}

/// Replaces any `user:password@` in a URL, so remotes can be named in messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) if !userinfo.contains('/') => format!("{scheme}://***@{host}"),
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// One commit's edits: set these scalars in these files (one file for an app in an
/// environment; one per app for a release).
#[derive(Debug, Clone)]
pub struct Change {
    pub files: Vec<FileEdit>,
    pub message: CommitMessage,
}

/// An edit of one file: set these scalars.
#[derive(Debug, Clone)]
pub struct FileEdit {
    pub path: String,
    pub set: Vec<(String, Scalar)>,
    /// The values `set`'s keys held when the change was planned, in the same order. A key
    /// found holding something else (and not already the wanted value) is a conflict.
    /// `None`: whatever the first attempt reads.
    pub planned_from: Option<Vec<String>>,
}

impl Change {
    /// A change of one file.
    pub fn one(
        path: impl Into<String>,
        set: Vec<(String, Scalar)>,
        planned_from: Option<Vec<String>>,
        message: CommitMessage,
    ) -> Self {
        Self {
            files: vec![FileEdit {
                path: path.into(),
                set,
                planned_from,
            }],
            message,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Written {
    /// A new commit is on the remote branch.
    Committed { revision: GitSha, attempts: u32 },
    /// The file already said this: no commit was made.
    Unchanged { revision: GitSha },
}

impl Written {
    pub fn revision(&self) -> &GitSha {
        match self {
            Self::Committed { revision, .. } | Self::Unchanged { revision } => revision,
        }
    }
}

/// A GitOps repository reached through a bare local mirror.
#[derive(Debug, Clone)]
pub struct GitOpsRepo {
    settings: GitOpsSettings,
    mirror: PathBuf,
}

const REMOTE_NAME: &str = "origin";

impl GitOpsRepo {
    /// Opens (creating it when missing) the mirror at `mirror` for the remote in `settings`.
    pub fn open(settings: GitOpsSettings, mirror: &Path) -> Result<Self> {
        let fail = |source| Error::Mirror {
            path: mirror.to_owned(),
            source,
        };
        let repo = match Repository::open_bare(mirror) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(mirror).map_err(|source| Error::CreateMirror {
                    path: mirror.to_owned(),
                    source,
                })?;
                Repository::init_bare(mirror).map_err(fail)?
            }
        };
        match repo.find_remote(REMOTE_NAME) {
            Ok(remote) if remote.url().ok() == Some(settings.url.as_str()) => {}
            Ok(_) => repo
                .remote_set_url(REMOTE_NAME, &settings.url)
                .map_err(fail)?,
            Err(_) => {
                repo.remote(REMOTE_NAME, &settings.url).map_err(fail)?;
            }
        }
        Ok(Self {
            settings,
            mirror: mirror.to_owned(),
        })
    }

    /// The remote, with any credentials in it hidden.
    pub fn url(&self) -> String {
        redact_url(&self.settings.url)
    }

    fn repo(&self) -> Result<Repository> {
        Repository::open_bare(&self.mirror).map_err(|source| Error::Mirror {
            path: self.mirror.clone(),
            source,
        })
    }

    /// Holds the mirror's lock until dropped.
    fn lock(&self) -> Result<std::fs::File> {
        let path = self.mirror.join("paktech.lock");
        let file = crate::lockfile::open(&path).map_err(|source| Error::Lock {
            path: path.clone(),
            source,
        })?;
        file.lock().map_err(|source| Error::Lock { path, source })?;
        Ok(file)
    }

    fn callbacks(&self) -> git2::RemoteCallbacks<'_> {
        let mut callbacks = git2::RemoteCallbacks::new();
        let token = self.settings.token.clone();
        callbacks.credentials(move |_url, username, allowed| {
            if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT)
                && let Some(token) = &token
            {
                return git2::Cred::userpass_plaintext("x-access-token", token.expose());
            }
            if allowed.contains(git2::CredentialType::SSH_KEY) {
                return git2::Cred::ssh_key_from_agent(username.unwrap_or("git"));
            }
            Err(git2::Error::from_str(
                "the remote asks for credentials: set GITOPS_TOKEN (https) or load an ssh key into the agent",
            ))
        });
        callbacks
    }

    /// The file at `path` as of `revision`, or `None` when it does not exist there.
    pub fn read(&self, revision: &GitSha, path: &str) -> Result<Option<String>> {
        let repo = self.repo()?;
        read_at(&repo, oid(revision)?, path)
    }

    /// Every file under the folder `prefix` at `revision`, with its contents, sorted by path.
    pub fn files_under(&self, revision: &GitSha, prefix: &str) -> Result<Vec<(String, String)>> {
        let repo = self.repo()?;
        let commit = repo
            .find_commit(oid(revision)?)
            .map_err(git(format!("no commit {revision}")))?;
        let tree = commit.tree().map_err(git("cannot read a tree"))?;
        let mut files = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            let path = format!("{dir}{}", entry.name().unwrap_or_default());
            if entry.kind() == Some(git2::ObjectType::Blob)
                && path.starts_with(prefix)
                && let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob())
            {
                files.push((path, String::from_utf8_lossy(blob.content()).into_owned()));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(git("cannot walk a tree"))?;
        files.sort();
        Ok(files)
    }

    /// Applies `change` on the remote's tip, commits and pushes it; when the push is rejected
    /// because the remote moved, fetches and re-applies the same edit on the new tip, with
    /// jittered back-off, at most `push_attempts` times. A key that someone else changed to a
    /// different value meanwhile is a [`Error::Conflict`], and nothing is written.
    #[tracing::instrument(skip_all, fields(files = change.files.len()))]
    pub fn write(&self, change: &Change) -> Result<Written> {
        let mut bases: Vec<Option<Vec<String>>> = change
            .files
            .iter()
            .map(|f| f.planned_from.clone())
            .collect();
        let branch = self.settings.branch.clone();
        self.update(&branch, false, &change.message, |repo, tip| {
            let Some(tip) = tip else {
                return Err(Error::NoBranch {
                    url: self.url(),
                    branch: branch.clone(),
                });
            };
            let mut changed = Vec::new();
            for (file, base) in change.files.iter().zip(bases.iter_mut()) {
                if let Some(text) = edited(repo, tip, file, base)? {
                    changed.push((file.path.clone(), Some(text)));
                }
            }
            Ok((!changed.is_empty()).then_some(changed))
        })
    }

    /// Writes (`Some`) or deletes (`None`) whole files on `branch`, creating the branch when
    /// the remote lacks it. Files that already hold that content make no commit. For records
    /// kept beside the desired state (approvals, blocks), where no syncer looks.
    pub fn put_files(
        &self,
        branch: &str,
        files: &[(String, Option<String>)],
        message: &CommitMessage,
    ) -> Result<Written> {
        self.update(branch, true, message, |repo, tip| {
            // What differs at the tip; deleting a file that is not there is nothing to do.
            let changed: Vec<(String, Option<String>)> = files
                .iter()
                .filter(|(path, contents)| {
                    let now = tip.and_then(|t| read_at(repo, t, path).ok().flatten());
                    now.as_deref() != contents.as_deref()
                })
                .cloned()
                .collect();
            Ok((!changed.is_empty()).then_some(changed))
        })
    }

    /// The compare-and-swap loop shared by every write: fetch `branch`, let `edit` decide the
    /// file changes against the tip (`None`: nothing to do), commit them, push, and start
    /// over on the new tip when the push is rejected.
    fn update(
        &self,
        branch: &str,
        create: bool,
        message: &CommitMessage,
        mut edit: impl FnMut(&Repository, Option<Oid>) -> Result<Option<Vec<(String, Option<String>)>>>,
    ) -> Result<Written> {
        let _lock = self.lock()?;
        let repo = self.repo()?;
        let odb = repo
            .odb()
            .map_err(git("cannot open the mirror's objects"))?;
        let pending = pack::Pending::new(&odb)?;
        let signature =
            git2::Signature::now(&self.settings.author_name, &self.settings.author_email)
                .map_err(git("cannot make the commit signature"))?;
        for attempt in 1..=self.settings.push_attempts {
            let tip = self.fetch_locked(&repo, branch)?;
            if tip.is_none() && !create {
                return Err(Error::NoBranch {
                    url: self.url(),
                    branch: branch.to_owned(),
                });
            }
            let Some(files) = edit(&repo, tip)? else {
                let revision = match tip {
                    Some(tip) => sha(tip),
                    None => {
                        return Err(Error::NoBranch {
                            url: self.url(),
                            branch: branch.to_owned(),
                        });
                    }
                };
                return Ok(Written::Unchanged { revision });
            };
            let commit = commit_files(&repo, tip, &files, message, &signature)?;
            let objects = pending.take(&repo, commit)?;
            match push::compare_and_swap(&repo, self, branch, tip, commit, &objects)? {
                push::Outcome::Pushed => {
                    tracing::info!(attempt, branch, revision = %commit, "pushed");
                    consolidate(&self.mirror);
                    return Ok(Written::Committed {
                        revision: sha(commit),
                        attempts: attempt,
                    });
                }
                push::Outcome::Rejected(reason) => {
                    tracing::debug!(attempt, reason, "push rejected; re-applying on the new tip");
                    std::thread::sleep(backoff(attempt));
                }
            }
        }
        Err(Error::Contended {
            url: self.url(),
            attempts: self.settings.push_attempts,
        })
    }

    /// The bare local mirror's folder (where caches of what was read from it belong).
    pub fn mirror(&self) -> &Path {
        &self.mirror
    }

    pub(crate) fn settings(&self) -> &GitOpsSettings {
        &self.settings
    }
}

/// Keeps the packs of the repository at `git_dir` few (`pack::consolidate`); a failure only
/// costs later reads time, so it is logged, never returned: the write it follows has landed.
fn consolidate(git_dir: &Path) {
    if let Err(error) = pack::consolidate(git_dir) {
        tracing::warn!(repository = %git_dir.display(), %error, "cannot consolidate the packs");
    }
}

fn entry_id(commit: &git2::Commit<'_>, path: &str) -> Option<Oid> {
    commit
        .tree()
        .ok()?
        .get_path(Path::new(path))
        .ok()
        .map(|e| e.id())
}

/// 10 ms doubling to 320 ms, each with up to 100% jitter, so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(5);
    Duration::from_millis(base + rand::random_range(0..=base))
}

fn sha(id: Oid) -> GitSha {
    id.to_string()
        .parse()
        .unwrap_or_else(|_| unreachable!("git object ids are 40 lowercase hex characters"))
}

fn oid(revision: &GitSha) -> Result<Oid> {
    Oid::from_str(revision.as_str()).map_err(git(format!("bad revision {revision}")))
}

#[cfg(test)]
mod tests;
