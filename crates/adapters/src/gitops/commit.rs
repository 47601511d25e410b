//! A commit built in memory from the tip's tree: each edited file's new blob, the trees above it and the commit, so no work tree ever holds a half-written file.

use super::*;

/// `file` edited on `tip`: its new text, or `None` when it already says this. A key someone
/// set to another value since `base` (what it held when planned) is a conflict.
pub(super) fn edited(
    repo: &Repository,
    tip: Oid,
    file: &FileEdit,
    base: &mut Option<Vec<String>>,
) -> Result<Option<String>> {
    let text = read_at(repo, tip, &file.path)?.ok_or_else(|| Error::NotFound {
        path: file.path.clone(),
        revision: tip.to_string(),
    })?;
    let document = Document::parse(file.path.clone(), text)?;
    let current: Vec<String> = file
        .set
        .iter()
        .map(|(key, _)| {
            document
                .require(key, "a scalar the pipeline writes")
                .map(str::to_owned)
        })
        .collect::<Result<_, _>>()?;
    let base_values = base.get_or_insert_with(|| current.clone());
    for (((key, wanted), found), base) in file.set.iter().zip(&current).zip(base_values.iter()) {
        if found != base && *found != wanted.to_string() {
            return Err(Error::Conflict {
                path: file.path.clone(),
                key: key.clone(),
                base: base.clone(),
                found: found.clone(),
                wanted: wanted.to_string(),
            });
        }
    }
    let edits: Vec<(&str, Scalar)> = file
        .set
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    let edited = document.with(&edits)?;
    Ok((edited.text() != document.text()).then(|| edited.text().to_owned()))
}

pub(super) fn read_at(repo: &Repository, revision: Oid, path: &str) -> Result<Option<String>> {
    let commit = repo
        .find_commit(revision)
        .map_err(git(format!("no commit {revision}")))?;
    let tree = commit
        .tree()
        .map_err(git(format!("cannot read the tree of {revision}")))?;
    let entry = match tree.get_path(Path::new(path)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(git(format!("cannot look up {path}"))(e)),
    };
    let blob = entry
        .to_object(repo)
        .and_then(|o| o.peel_to_blob())
        .map_err(git(format!("{path} at {revision} is not a file")))?;
    Ok(Some(String::from_utf8_lossy(blob.content()).into_owned()))
}

/// A commit on `parent` (none: a root commit) that writes or deletes the given files.
pub(super) fn commit_files(
    repo: &Repository,
    parent: Option<Oid>,
    files: &[(String, Option<String>)],
    message: &CommitMessage,
    signature: &git2::Signature<'_>,
) -> Result<Oid> {
    let parent = parent
        .map(|p| repo.find_commit(p))
        .transpose()
        .map_err(git("cannot read the tip"))?;
    let base = match &parent {
        Some(p) => p.tree().map_err(git("cannot read the tip's tree"))?,
        None => {
            let empty = repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .map_err(git("cannot write an empty tree"))?;
            repo.find_tree(empty)
                .map_err(git("cannot read an empty tree"))?
        }
    };
    let mut update = git2::build::TreeUpdateBuilder::new();
    for (path, contents) in files {
        match contents {
            Some(contents) => {
                let blob = repo
                    .blob(contents.as_bytes())
                    .map_err(git("cannot write a blob"))?;
                update.upsert(path.as_str(), blob, git2::FileMode::Blob);
            }
            None => {
                update.remove(path.as_str());
            }
        }
    }
    let tree_id = update
        .create_updated(repo, &base)
        .map_err(git("cannot write the new tree"))?;
    let tree = repo
        .find_tree(tree_id)
        .map_err(git("cannot read the new tree"))?;
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        None,
        signature,
        signature,
        &message.to_string(),
        &tree,
        &parents,
    )
    .map_err(git("cannot write the commit"))
}
