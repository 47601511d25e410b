//! The rollback decision: revert exactly what one promotion commit changed in one values
//! file, on top of whatever the file says now. Keys changed by the commit and untouched since
//! go back; keys changed since by someone else are a conflict (nothing is written); every
//! other key, and every other file, is left alone. This is what `HEAD~1` gets wrong.

use crate::plan::diff;
use model::audit::{Action, CommitRecord, keys};
use model::values::{Document, Scalar};
use model::{AppName, EnvName, GitSha};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{env} has nothing to roll back: {why}")]
pub struct NothingToRollBack {
    pub env: String,
    pub why: String,
}

/// Why a rollback is refused before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Nothing(#[from] NothingToRollBack),
    #[error(transparent)]
    Conflict(#[from] RevertConflict),
}

/// What a rollback undoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo<'h> {
    /// Revert this promotion commit (the one that brought the current build in), on top of
    /// whatever the file says now.
    Revert(&'h CommitRecord),
    /// Go back to the build this commit brought in (`rollback --to`).
    Restore(&'h CommitRecord),
}

/// The newest commit in `app`'s `history` that brought `sha` into the environment.
fn introduced<'h>(
    history: &'h [CommitRecord],
    app: &AppName,
    sha: &str,
) -> Option<&'h CommitRecord> {
    history.iter().find(|c| {
        c.build_of(app.as_str()) == Some(sha)
            && matches!(
                c.trailer(keys::ACTION).and_then(Action::parse),
                Some(Action::Promote | Action::Deploy)
            )
    })
}

/// The apps the newest promotion (or deploy) of an environment moved: what `rollback`
/// without `--app` undoes. `histories` holds each app's values-file history there, newest
/// first; a commit that moved several apps (a release) is in each of their histories.
pub fn last_release(histories: &[(AppName, Vec<CommitRecord>)]) -> Vec<AppName> {
    let moved = |c: &&CommitRecord| {
        matches!(
            c.trailer(keys::ACTION).and_then(Action::parse),
            Some(Action::Promote | Action::Deploy)
        )
    };
    let newest = histories
        .iter()
        .filter_map(|(_, h)| h.iter().find(moved))
        .max_by_key(|c| c.time);
    let Some(newest) = newest else {
        return Vec::new();
    };
    histories
        .iter()
        .filter(|(_, h)| h.iter().any(|c| c.revision == newest.revision))
        .map(|(app, _)| app.clone())
        .collect()
}

/// Which commit to undo in `env`, whose values name `current` and whose values-file history
/// is `history` (newest first): the promotion of the current build, or, with `to`, the
/// commit that brought that build in.
pub fn choose<'h>(
    app: &AppName,
    env: &EnvName,
    history: &'h [CommitRecord],
    current: &str,
    to: Option<&GitSha>,
) -> Result<Undo<'h>, NothingToRollBack> {
    let nothing = |why: String| NothingToRollBack {
        env: env.to_string(),
        why,
    };
    if current.is_empty() {
        return Err(nothing("it runs no build".to_owned()));
    }
    match to {
        Some(to) => introduced(history, app, to.as_str())
            .map(Undo::Restore)
            .ok_or_else(|| nothing(format!("{to} never ran in {env}"))),
        None => {
            let commit = introduced(history, app, current)
                .ok_or_else(|| nothing(format!("no recorded promotion introduced {current}")))?;
            if commit.parent.is_none() {
                return Err(nothing(format!("{} has no parent", commit.revision)));
            }
            Ok(Undo::Revert(commit))
        }
    }
}

/// A rollback of one environment, planned: the edits to its values file (with what each key
/// held when planned), the build it leaves and the one it goes back to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RollbackPlan {
    pub app: AppName,
    pub env: EnvName,
    pub path: String,
    pub from_sha: String,
    pub to_sha: String,
    pub to_digest: String,
    #[serde(skip)]
    pub edits: Vec<(String, Scalar)>,
    #[serde(skip)]
    pub planned_from: Vec<String>,
    /// The promotion commit reverted (not set for `--to`).
    pub reverted: Option<GitSha>,
    pub diff: Vec<String>,
}

/// The documents an [`Undo`] is computed from: the file at the undone commit and, for a
/// revert, at its parent.
#[derive(Debug, Clone, Copy)]
pub struct UndoDocuments<'a> {
    pub at_commit: &'a Document,
    pub before_commit: Option<&'a Document>,
}

/// Plans the rollback of `env` (values file `current`) as `undo` says.
pub fn plan_rollback(
    app: &AppName,
    env: &EnvName,
    current: &Document,
    undo: Undo<'_>,
    docs: UndoDocuments<'_>,
) -> Result<RollbackPlan, Refused> {
    let bad = current.get("image.tag").unwrap_or_default().to_owned();
    let (edits, reverted) = match (undo, docs.before_commit) {
        (Undo::Restore(_), _) => {
            let edits = ["image.tag", "image.digest"]
                .iter()
                .map(|k| {
                    (
                        (*k).to_owned(),
                        Scalar::str(docs.at_commit.get(k).unwrap_or_default()),
                    )
                })
                .collect::<Vec<_>>();
            (edits, None)
        }
        (Undo::Revert(commit), Some(before)) => (
            plan(before, docs.at_commit, current)?,
            Some(commit.revision.clone()),
        ),
        (Undo::Revert(commit), None) => {
            return Err(NothingToRollBack {
                env: env.to_string(),
                why: format!("{} has no parent", commit.revision),
            }
            .into());
        }
    };
    let value_of = |key: &str| {
        edits
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string())
    };
    let to_sha = value_of("image.tag").unwrap_or_else(|| bad.clone());
    if to_sha == bad {
        return Err(NothingToRollBack {
            env: env.to_string(),
            why: format!("it already runs {bad}"),
        }
        .into());
    }
    let set: Vec<(&str, Scalar)> = edits.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let diff = current
        .with(&set)
        .map(|edited| diff(current.text(), edited.text()))
        .unwrap_or_default();
    Ok(RollbackPlan {
        app: app.clone(),
        env: env.clone(),
        path: current.file().to_owned(),
        from_sha: bad,
        to_digest: value_of("image.digest").unwrap_or_default(),
        to_sha,
        planned_from: edits
            .iter()
            .map(|(k, _)| current.get(k).unwrap_or_default().to_owned())
            .collect(),
        edits,
        reverted,
        diff,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot revert {key} in {file}: the promotion set it to {promoted:?}, but it is now {current:?}; resolve by hand, nothing was written"
)]
pub struct RevertConflict {
    pub file: String,
    pub key: String,
    pub promoted: String,
    pub current: String,
}

/// The edits that undo the change from `before` to `promoted` on `current`. Empty when the
/// change is already undone.
pub fn plan(
    before: &Document,
    promoted: &Document,
    current: &Document,
) -> Result<Vec<(String, Scalar)>, RevertConflict> {
    let mut edits = Vec::new();
    for (key, old) in before.under("") {
        let Some(new) = promoted.get(key) else {
            continue;
        };
        if new == old {
            continue;
        }
        let now = current.get(key).unwrap_or_default();
        if now == old {
            continue;
        }
        if now != new {
            return Err(RevertConflict {
                file: current.file().to_owned(),
                key: key.to_owned(),
                promoted: new.to_owned(),
                current: now.to_owned(),
            });
        }
        edits.push((
            key.to_owned(),
            before.scalar(key).unwrap_or_else(|| Scalar::str(old)),
        ));
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_release_is_every_app_the_newest_promotion_moved() {
        use model::audit::{Build, CommitMessage};
        let commit = |rev: char, time: i64, action: Action, builds: &[Build<'_>]| CommitRecord {
            revision: rev.to_string().repeat(40).parse().expect("sha"),
            parent: None,
            time,
            author: "ci".to_owned(),
            subject: "s".to_owned(),
            trailers: CommitMessage::parse(
                &CommitMessage::new("s")
                    .trailer(keys::ACTION, action.as_str())
                    .builds(builds)
                    .to_string(),
            )
            .trailers,
        };
        let b = |app, sha| Build {
            app,
            sha,
            digest: "",
        };
        let release = commit('a', 20, Action::Promote, &[b("app", "1"), b("gw", "2")]);
        let older = commit('b', 10, Action::Promote, &[b("db", "3")]);
        let rollback = commit('c', 30, Action::Rollback, &[b("db", "4")]);
        let name = |n: &str| -> AppName { n.parse().expect("app") };
        let histories = vec![
            (name("app"), vec![release.clone()]),
            (name("gw"), vec![release]),
            (name("db"), vec![rollback, older]),
        ];
        assert_eq!(last_release(&histories), vec![name("app"), name("gw")]);
        assert!(last_release(&[]).is_empty());
    }

    use super::*;

    fn doc(tag: &str, digest: &str, replicas: u32) -> Document {
        Document::parse(
            "prod/values.yaml",
            format!("# prod\nimage:\n  tag: \"{tag}\"\n  digest: \"{digest}\"\nreplicaCount: {replicas}\n"),
        )
        .expect("yaml")
    }

    fn check(current: Document, expected: Result<Vec<(&str, &str)>, &str>) {
        let before = doc("good", "d-good", 3);
        let promoted = doc("bad", "d-bad", 3);
        let got = plan(&before, &promoted, &current)
            .map(|edits| {
                edits
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.key);
        let expected = expected
            .map(|edits| {
                edits
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect::<Vec<_>>()
            })
            .map_err(str::to_owned);
        assert_eq!(got, expected);
    }

    #[test]
    fn table() {
        // Nothing happened since the promotion: tag and digest go back.
        check(
            doc("bad", "d-bad", 3),
            Ok(vec![("image.digest", "d-good"), ("image.tag", "good")]),
        );
        // Someone scaled prod since: the scale stays, the image goes back.
        check(
            doc("bad", "d-bad", 5),
            Ok(vec![("image.digest", "d-good"), ("image.tag", "good")]),
        );
        // Someone scaled prod in the bad promotion too: the number goes back as a number.
        let before = doc("good", "d-good", 3);
        let promoted = doc("bad", "d-bad", 5);
        let edits = plan(&before, &promoted, &promoted).expect("plan");
        let reverted = promoted
            .with(
                &edits
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect::<Vec<_>>(),
            )
            .expect("edit");
        assert!(
            reverted.text().contains("replicaCount: 3\n"),
            "{}",
            reverted.text()
        );
        assert_eq!(reverted.text(), before.text());
        // Already rolled back: nothing to do.
        check(doc("good", "d-good", 3), Ok(vec![]));
        // Someone promoted another build since: a conflict, not a silent overwrite.
        check(doc("newer", "d-newer", 3), Err("image.digest"));
    }
}
