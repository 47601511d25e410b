//! The application repository's state (git2): which commit is checked out, whether the work
//! tree holds uncommitted changes, and when the commit was made.

use std::path::{Path, PathBuf};

use model::GitSha;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} is not inside a git repository: {source}", path.display())]
    NotARepository {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("cannot read the state of the repository at {}: {source}", path.display())]
    Git {
        path: PathBuf,
        #[source]
        source: git2::Error,
    },
    #[error("HEAD of {} is not a commit id: {source}", path.display())]
    BadHead {
        path: PathBuf,
        #[source]
        source: model::InvalidValue,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The commit a build comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub sha: GitSha,
    /// Seconds since the epoch, from the committer time: the only clock a build may read.
    pub commit_time: i64,
    /// Paths with uncommitted changes (tracked and modified, or untracked and not ignored).
    pub dirty_paths: Vec<String>,
}

impl SourceState {
    pub fn is_dirty(&self) -> bool {
        !self.dirty_paths.is_empty()
    }
}

/// The repository containing `path`.
fn discover(path: &Path) -> Result<git2::Repository> {
    git2::Repository::discover(path).map_err(|source| Error::NotARepository {
        path: path.to_owned(),
        source,
    })
}

/// A git2 error reading the repository at `path`, named.
fn git_error(path: &Path) -> impl Fn(git2::Error) -> Error + Copy + '_ {
    move |source| Error::Git {
        path: path.to_owned(),
        source,
    }
}

/// Reads the state of the repository containing `path`.
pub fn read(path: &Path) -> Result<SourceState> {
    let repo = discover(path)?;
    let git = git_error(path);
    let commit = repo.head().and_then(|h| h.peel_to_commit()).map_err(git)?;
    let sha = commit
        .id()
        .to_string()
        .parse()
        .map_err(|source| Error::BadHead {
            path: path.to_owned(),
            source,
        })?;
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    let statuses = repo.statuses(Some(&mut options)).map_err(git)?;
    let dirty_paths = statuses
        .iter()
        .filter(|s| s.status() != git2::Status::CURRENT)
        .filter_map(|s| s.path().ok().map(str::to_owned))
        .collect();
    Ok(SourceState {
        sha,
        commit_time: commit.time().seconds(),
        dirty_paths,
    })
}

/// The paths that differ between the commit `base` and the work tree (committed changes
/// since `base`, and uncommitted ones); `None` when `base` is not a commit of this repository
/// (a build made elsewhere, or history rewritten): the caller cannot tell what changed.
pub fn changed_since(path: &Path, base: &GitSha) -> Result<Option<Vec<String>>> {
    let repo = discover(path)?;
    let git = git_error(path);
    let Ok(oid) = git2::Oid::from_str(base.as_str()) else {
        return Ok(None);
    };
    let Ok(commit) = repo.find_commit(oid) else {
        return Ok(None);
    };
    let tree = commit.tree().map_err(git)?;
    let mut options = git2::DiffOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true);
    let diff = repo
        .diff_tree_to_workdir_with_index(Some(&tree), Some(&mut options))
        .map_err(git)?;
    let mut paths: Vec<String> = diff
        .deltas()
        .flat_map(|d| [d.old_file().path(), d.new_file().path()])
        .flatten()
        .filter_map(|p| p.to_str().map(str::to_owned))
        .collect();
    paths.sort();
    paths.dedup();
    Ok(Some(paths))
}
