//! The GitOps history as the delivery metrics read it: every pipeline write decoded once, and
//! kept in a cache file keyed by the tip it was read up to, so a later read walks only the
//! commits since. A cached tip that is not an ancestor of the branch's tip (history rewritten)
//! or a cache that does not parse is thrown away and the history read again from the start:
//! the figures are slower then, never wrong.

use std::collections::HashMap;
use std::path::Path;

use crate::gitops::{self, GitOpsRepo};
use delivery::{Write, decode};
use model::GitSha;
use model::audit::CommitRecord;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    GitOps(#[from] gitops::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Bumped whenever [`Write`] or its decoding changes, so an older cache is read again.
const VERSION: u32 = 1;

/// What the cache file holds.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Cache {
    version: u32,
    /// The app commits from before apps were named speak for (decoding depends on it).
    default_app: String,
    tip: GitSha,
    writes: Vec<Write>,
}

/// Every pipeline write of the history up to `tip`, oldest first, and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub tip: GitSha,
    pub writes: Vec<Write>,
    /// Commits walked by this read (all of them on a first read; those since the cached tip after).
    pub walked: usize,
    /// Why the cache was not used, when there was one and it was not.
    pub rebuilt: Option<String>,
}

/// Where the cache of `repo`'s history lives: in its mirror, beside what it was read from.
pub fn cache_in(repo: &GitOpsRepo) -> std::path::PathBuf {
    repo.mirror().join("paktech-delivery-metrics.json")
}

/// The history up to `tip`, from the cache at `cache` plus the commits since its tip; the
/// cache is then updated (a failure to write it only costs the next read time).
#[tracing::instrument(skip_all, fields(tip = %tip))]
pub fn read(repo: &GitOpsRepo, tip: &GitSha, cache: &Path, default_app: &str) -> Result<Ledger> {
    let (mut writes, since, mut rebuilt) = match load(cache, default_app) {
        Ok(None) => (Vec::new(), None, None),
        Err(why) => (Vec::new(), None, Some(why)),
        Ok(Some(cached)) if repo.is_ancestor(&cached.tip, tip)? => {
            (cached.writes, Some(cached.tip), None)
        }
        Ok(Some(cached)) => (
            Vec::new(),
            None,
            Some(format!(
                "the cached tip {} is not an ancestor of {tip} (history was rewritten)",
                cached.tip
            )),
        ),
    };
    let mut walked = 0;
    if since.as_ref() != Some(tip) {
        let decoded = |commit: CommitRecord| decode(&commit, default_app);
        let (count, mut new) = match repo.walk(tip, since.as_ref(), decoded)? {
            Some(read) => read,
            None => {
                rebuilt = Some(format!(
                    "the cached tip {} is an ancestor of {tip} only through a merge",
                    since.as_ref().map(ToString::to_string).unwrap_or_default()
                ));
                writes.clear();
                repo.walk(tip, None, decoded)?
                    .unwrap_or_else(|| unreachable!("a walk to the root always ends"))
            }
        };
        walked = count;
        new.reverse();
        writes.extend(new);
        save(cache, default_app, tip, &writes);
    }
    if let Some(why) = &rebuilt {
        tracing::warn!(cache = %cache.display(), why, "read the whole history again");
    }
    Ok(Ledger {
        tip: tip.clone(),
        writes,
        walked,
        rebuilt,
    })
}

/// The cache, `None` when there is none, or why it cannot be used.
fn load(path: &Path, default_app: &str) -> std::result::Result<Option<Cache>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the cache {}: {e}", path.display())),
    };
    let cache: Cache = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the cache {} does not parse: {e}", path.display()))?;
    if cache.version != VERSION {
        return Err(format!(
            "the cache {} is of version {}, this pipeline writes {VERSION}",
            path.display(),
            cache.version
        ));
    }
    if cache.default_app != default_app {
        return Err(format!(
            "the cache {} was read for the default app {}, not {default_app}",
            path.display(),
            cache.default_app
        ));
    }
    Ok(Some(cache))
}

/// Writes the cache beside itself and renames it into place, so a reader never sees half.
fn save(path: &Path, default_app: &str, tip: &GitSha, writes: &[Write]) {
    #[derive(serde::Serialize)]
    struct CacheRef<'a> {
        version: u32,
        default_app: &'a str,
        tip: &'a GitSha,
        writes: &'a [Write],
    }
    let cache = CacheRef {
        version: VERSION,
        default_app,
        tip,
        writes,
    };
    let saved = (|| -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, serde_json::to_vec(&cache)?)?;
        std::fs::rename(&partial, path)
    })();
    if let Err(error) = saved {
        tracing::warn!(cache = %path.display(), %error, "cannot save the delivery metrics cache");
    }
}

/// The source commit times of builds, read from the source repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTimes {
    /// Whether the source repository could be opened at all.
    pub reachable: bool,
    /// Build sha to committer time (seconds since the epoch), for the builds it holds.
    pub times: HashMap<String, i64>,
}

impl SourceTimes {
    /// Each of `shas`' commit time in the git repository at or above `workspace`.
    pub fn read<'a>(workspace: &Path, shas: impl IntoIterator<Item = &'a str>) -> Self {
        let Ok(repo) = git2::Repository::discover(workspace) else {
            return Self::default();
        };
        let times = shas
            .into_iter()
            .filter_map(|sha| {
                let id = git2::Oid::from_str(sha).ok()?;
                let commit = repo.find_commit(id).ok()?;
                Some((sha.to_owned(), commit.time().seconds()))
            })
            .collect();
        Self {
            reachable: true,
            times,
        }
    }

    pub fn get(&self, sha: &str) -> Option<i64> {
        self.times.get(sha).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use delivery::Kind;
    use model::audit::{CommitMessage, keys};

    /// A bare repository whose commits are made straight into it, read as its own mirror.
    struct History {
        _dir: tempfile::TempDir,
        bare: git2::Repository,
        repo: GitOpsRepo,
        cache: std::path::PathBuf,
    }

    impl History {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("gitops.git");
            let bare = git2::Repository::init_bare(&path).expect("bare repository");
            let settings = gitops::GitOpsSettings {
                url: path.display().to_string(),
                branch: "main".to_owned(),
                author_name: "test".to_owned(),
                author_email: "test@paktech.invalid".to_owned(),
                push_attempts: 1,
                token: None,
            };
            let repo = GitOpsRepo::open(settings, &path).expect("open");
            let cache = dir.path().join("state/delivery-metrics.json");
            Self {
                _dir: dir,
                bare,
                repo,
                cache,
            }
        }

        /// Commits a promotion of `sha` to prod on `parent` (the root when `None`).
        fn promote(&self, parent: Option<&GitSha>, sha: &str, time: i64) -> GitSha {
            self.promote_on(parent.as_slice(), sha, time)
        }

        /// Commits a promotion of `sha` to prod on `parents` (a merge when several).
        fn promote_on(&self, parents: &[&GitSha], sha: &str, time: i64) -> GitSha {
            let message = CommitMessage::new(format!("promote {sha}"))
                .trailer(keys::ACTION, "promote")
                .trailer(keys::ENVIRONMENT, "prod")
                .trailer(keys::IMAGE_SHA, sha)
                .to_string();
            let signature =
                git2::Signature::new("ci", "ci@paktech.invalid", &git2::Time::new(time, 0))
                    .expect("signature");
            let tree_id = self
                .bare
                .treebuilder(None)
                .and_then(|b| b.write())
                .expect("tree");
            let tree = self.bare.find_tree(tree_id).expect("tree");
            let parents: Vec<git2::Commit<'_>> = parents
                .iter()
                .map(|p| {
                    self.bare
                        .find_commit(git2::Oid::from_str(p.as_str()).expect("oid"))
                        .expect("parent")
                })
                .collect();
            let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
            let id = self
                .bare
                .commit(None, &signature, &signature, &message, &tree, &parents)
                .expect("commit");
            id.to_string().parse().expect("sha")
        }

        fn read(&self, tip: &GitSha) -> Ledger {
            read(&self.repo, tip, &self.cache, "web").expect("read")
        }

        /// The builds of the ledger's writes, oldest first.
        fn builds(ledger: &Ledger) -> Vec<&str> {
            ledger
                .writes
                .iter()
                .inspect(|w| assert_eq!(w.kind, Kind::Promote))
                .map(|w| w.builds[0].1.as_str())
                .collect()
        }
    }

    #[test]
    fn a_later_read_walks_only_what_is_new() {
        let h = History::new();
        let a = h.promote(None, "a", 100);
        let b = h.promote(Some(&a), "b", 200);
        let first = h.read(&b);
        assert_eq!((first.walked, first.rebuilt.as_deref()), (2, None));
        assert_eq!(History::builds(&first), ["a", "b"]);
        let again = h.read(&b);
        assert_eq!(again.walked, 0, "nothing new");
        assert_eq!(again.writes, first.writes);
        let c = h.promote(Some(&b), "c", 300);
        let later = h.read(&c);
        assert_eq!((later.walked, later.rebuilt.as_deref()), (1, None));
        assert_eq!(History::builds(&later), ["a", "b", "c"]);
    }

    #[test]
    fn a_rewritten_history_or_a_broken_cache_is_read_again_from_the_start() {
        let h = History::new();
        let a = h.promote(None, "a", 100);
        let b = h.promote(Some(&a), "b", 200);
        h.read(&b);
        // The branch rewritten: b replaced by b2 on a; the cached tip b is not an ancestor.
        let b2 = h.promote(Some(&a), "b2", 250);
        let rewritten = h.read(&b2);
        assert_eq!(rewritten.walked, 2, "the whole history again");
        assert!(
            rewritten
                .rebuilt
                .as_deref()
                .is_some_and(|why| why.contains("not an ancestor")),
            "{:?}",
            rewritten.rebuilt
        );
        assert_eq!(History::builds(&rewritten), ["a", "b2"]);
        std::fs::write(&h.cache, b"{ not json").expect("break the cache");
        let broken = h.read(&b2);
        assert!(
            broken
                .rebuilt
                .as_deref()
                .is_some_and(|why| why.contains("does not parse"))
        );
        assert_eq!(History::builds(&broken), ["a", "b2"]);
        // The cache read for another default app is not used either.
        let other = read(&h.repo, &b2, &h.cache, "api").expect("read");
        assert!(other.rebuilt.is_some_and(|why| why.contains("default app")));
    }

    #[test]
    fn a_cached_tip_merged_in_from_the_side_is_read_again_from_the_start() {
        let h = History::new();
        let a = h.promote(None, "a", 100);
        let side = h.promote(Some(&a), "side", 150);
        h.read(&side);
        // The side branch merged as the second parent: its tip is an ancestor of the merge
        // but not on the first-parent line the figures follow.
        let b = h.promote(Some(&a), "b", 200);
        let merge = h.promote_on(&[&b, &side], "m", 300);
        let merged = h.read(&merge);
        assert!(
            merged
                .rebuilt
                .as_deref()
                .is_some_and(|why| why.contains("only through a merge")),
            "{:?}",
            merged.rebuilt
        );
        assert_eq!(merged.walked, 3);
        // As a read without a cache sees it: the first-parent line, no side commit.
        assert_eq!(History::builds(&merged), ["a", "b", "m"]);
        let _ = std::fs::remove_file(&h.cache);
        assert_eq!(h.read(&merge).writes, merged.writes);
    }

    #[test]
    fn source_times_come_from_the_source_repository_or_are_unknown() {
        let h = History::new();
        let a = h.promote(None, "a", 1234);
        // The bare repository stands in for the source repository: it holds commit a.
        let times = SourceTimes::read(h.bare.path(), [a.as_str(), &"f".repeat(40), "short"]);
        assert!(times.reachable);
        assert_eq!(times.get(a.as_str()), Some(1234));
        assert_eq!(times.get(&"f".repeat(40)), None);
        let nowhere = tempfile::tempdir().expect("temp dir");
        let unreachable = SourceTimes::read(nowhere.path(), [a.as_str()]);
        assert!(!unreachable.reachable);
        assert_eq!(unreachable.get(a.as_str()), None);
    }
}
