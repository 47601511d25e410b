//! Pushing with compare-and-swap: the branch moves from exactly the tip the commit was built
//! on to the commit, or not at all. Never forced.
//!
//! Over ssh and https the server's receive-pack does the compare-and-swap under its ref lock.
//! libgit2's in-process transport for local remotes (a path or `file://`) checks
//! fast-forwardness only against what it saw when it connected and then overwrites the ref, so
//! two local pushers can lose a write. For those remotes the commit's pack (`pack::Pending`) is
//! stored in the remote's object database directly (no temporary refs, which would confuse
//! concurrent readers listing refs) and the branch is then moved with `reference_matching`,
//! which compares and swaps under the ref's lock.

use std::cell::RefCell;

use git2::{Oid, PushOptions, Repository};

use super::{Error, GitOpsRepo, REMOTE_NAME, Result, git};

/// How a push ended.
#[derive(Debug)]
pub enum Outcome {
    Pushed,
    /// The remote moved (or another writer holds its ref lock): fetch and re-apply.
    Rejected(String),
}

/// Moves the remote `branch` from `expected` (`None`: absent) to `new`, whose new objects
/// are in `objects` (one pack) and already in `repo`.
pub fn compare_and_swap(
    repo: &Repository,
    gitops: &GitOpsRepo,
    branch: &str,
    expected: Option<Oid>,
    new: Oid,
    objects: &[u8],
) -> Result<Outcome> {
    let settings = gitops.settings();
    if let Some(remote_path) = local_path(&settings.url) {
        return swap_local(&remote_path, branch, expected, new, objects);
    }
    let outgoing = format!(
        "refs/paktech/outgoing/{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    );
    repo.reference(&outgoing, new, true, "paktech: outgoing commit")
        .map_err(git("cannot write a local ref"))?;
    let result = push(repo, gitops, &format!("{outgoing}:refs/heads/{branch}"))
        .map(|rejection| rejection.map_or(Outcome::Pushed, Outcome::Rejected));
    if let Ok(mut reference) = repo.find_reference(&outgoing) {
        let _ = reference.delete();
    }
    result
}

/// Pushes one refspec; `Some(reason)` when the remote refused the update.
fn push(repo: &Repository, gitops: &GitOpsRepo, refspec: &str) -> Result<Option<String>> {
    let rejection = RefCell::new(None);
    let mut callbacks = gitops.callbacks();
    callbacks.push_update_reference(|_refname, status| {
        if let Some(status) = status {
            *rejection.borrow_mut() = Some(status.to_owned());
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    let mut remote = repo
        .find_remote(REMOTE_NAME)
        .map_err(|source| Error::Push {
            url: gitops.url(),
            source,
        })?;
    let pushed = remote.push(&[refspec], Some(&mut options));
    drop(options);
    match pushed {
        Ok(()) => Ok(rejection.take()),
        Err(e) if is_contention(&e) => Ok(Some(e.message().to_owned())),
        Err(source) => Err(Error::Push {
            url: gitops.url(),
            source,
        }),
    }
}

fn swap_local(
    remote_path: &str,
    branch: &str,
    expected: Option<Oid>,
    new: Oid,
    objects: &[u8],
) -> Result<Outcome> {
    let remote = Repository::open(remote_path)
        .map_err(git(format!("cannot open the remote at {remote_path}")))?;
    let odb = remote
        .odb()
        .map_err(git("cannot open the remote's objects"))?;
    super::pack::store(&odb, objects)?;
    let name = format!("refs/heads/{branch}");
    let message = "paktech: push (compare-and-swap)";
    let result = match expected {
        Some(expected) => remote.reference_matching(&name, new, true, expected, message),
        // Creating the branch: fails when someone else created it first.
        None => remote.reference(&name, new, false, message),
    };
    match result {
        Ok(_) => {
            super::consolidate(remote.path());
            Ok(Outcome::Pushed)
        }
        Err(e) if is_contention(&e) => Ok(Outcome::Rejected(e.message().to_owned())),
        Err(e) => Err(git(format!("cannot move {branch} in {remote_path}"))(e)),
    }
}

fn is_contention(e: &git2::Error) -> bool {
    use git2::ErrorCode::{Exists, Locked, Modified, NotFastForward};
    matches!(e.code(), Modified | Locked | NotFastForward | Exists)
        || e.message().contains("lock")
        || e.message().contains("non-fast-forward")
        || e.message().contains("fetch first")
}

/// The filesystem path of a local remote, if the URL names one.
fn local_path(url: &str) -> Option<String> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(path.to_owned());
    }
    let scp_like = url.contains(':') && !url.starts_with('/') && !url.starts_with('.');
    (!url.contains("://") && !scp_like).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_remotes_are_recognised() {
        assert_eq!(
            local_path("/srv/gitops.git").as_deref(),
            Some("/srv/gitops.git")
        );
        assert_eq!(
            local_path("file:///srv/gitops.git").as_deref(),
            Some("/srv/gitops.git")
        );
        assert_eq!(local_path("./gitops.git").as_deref(), Some("./gitops.git"));
        assert_eq!(local_path("https://github.com/o/r.git"), None);
        assert_eq!(local_path("ssh://git@github.com/o/r.git"), None);
        assert_eq!(local_path("git@github.com:o/r.git"), None);
    }
}
