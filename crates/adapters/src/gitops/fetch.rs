//! Fetching into the bare mirror under its lock: the main branch, or another branch (the records).

use super::*;

impl GitOpsRepo {
    /// Fetches the branch and returns the remote's tip.
    #[tracing::instrument(skip_all, fields(url = %self.url(), branch = %self.settings.branch))]
    pub fn fetch(&self) -> Result<GitSha> {
        let _lock = self.lock()?;
        let repo = self.repo()?;
        self.fetch_main(&repo).map(sha)
    }

    /// Fetches `branch`; `None` when the remote has no such branch.
    pub fn fetch_branch(&self, branch: &str) -> Result<Option<GitSha>> {
        let _lock = self.lock()?;
        let repo = self.repo()?;
        Ok(self.fetch_locked(&repo, branch)?.map(sha))
    }

    pub(super) fn fetch_main(&self, repo: &Repository) -> Result<Oid> {
        self.fetch_locked(repo, &self.settings.branch)?
            .ok_or_else(|| Error::NoBranch {
                url: self.url(),
                branch: self.settings.branch.clone(),
            })
    }

    pub(super) fn fetch_locked(&self, repo: &Repository, branch: &str) -> Result<Option<Oid>> {
        let fail = |source| Error::Fetch {
            url: self.url(),
            branch: branch.to_owned(),
            source,
        };
        let tracking = format!("refs/remotes/{REMOTE_NAME}/{branch}");
        let mut remote = repo.find_remote(REMOTE_NAME).map_err(fail)?;
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        // A remote that cannot be reached may be having a moment: a few tries with back-off,
        // then the error. (Authentication and protocol errors are not retried.)
        const FETCH_ATTEMPTS: u32 = 3;
        for attempt in 1..=FETCH_ATTEMPTS {
            let mut options = FetchOptions::new();
            options.remote_callbacks(self.callbacks());
            options.prune(git2::FetchPrune::On);
            match remote.fetch(&[refspec.as_str()], Some(&mut options), None) {
                Ok(()) => break,
                Err(e)
                    if attempt < FETCH_ATTEMPTS
                        && matches!(
                            e.class(),
                            git2::ErrorClass::Net | git2::ErrorClass::Os | git2::ErrorClass::Ssh
                        ) =>
                {
                    tracing::debug!(attempt, error = %e, "fetch failed; retrying");
                    std::thread::sleep(backoff(attempt + 2));
                }
                Err(e) => return Err(fail(e)),
            }
        }
        // A branch the remote lacks fetches nothing; forget any stale tracking ref.
        let advertised = remote
            .list()
            .map_err(fail)?
            .iter()
            .any(|head| head.name() == format!("refs/heads/{branch}"));
        if !advertised {
            if let Ok(mut stale) = repo.find_reference(&tracking) {
                let _ = stale.delete();
            }
            return Ok(None);
        }
        Ok(repo.refname_to_id(&tracking).ok())
    }
}
