//! Creating the default GitOps repository: a bare repository whose first commit holds the
//! content of the project's `gitops/` folder.

use std::path::Path;

use git2::{FileMode, Repository};

use super::{Error, Result, git};

/// Creates a bare repository at `bare` with one commit on `branch` holding the files under
/// `content`, unless a repository is already there. Returns whether it created one.
/// The repository is built in a sibling folder and renamed into place, so a crash never leaves
/// a half-seeded repository behind.
pub fn seed_bare_repository(
    bare: &Path,
    content: &Path,
    branch: &str,
    author: (&str, &str),
) -> Result<bool> {
    if Repository::open_bare(bare).is_ok() {
        return Ok(false);
    }
    let io = |source| Error::Lock {
        path: bare.to_owned(),
        source,
    };
    let parent = bare.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io)?;
    let staging = tempfile_dir(parent).map_err(io)?;
    let repo = Repository::init_bare(&staging).map_err(|source| Error::Mirror {
        path: staging.clone(),
        source,
    })?;
    let tree = write_tree(&repo, content)?;
    let tree = repo
        .find_tree(tree)
        .map_err(git("cannot read the seed tree"))?;
    let signature =
        git2::Signature::now(author.0, author.1).map_err(git("cannot make a signature"))?;
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &signature,
        &signature,
        "chore: seed the GitOps repository from gitops/\n",
        &tree,
        &[],
    )
    .map_err(git("cannot write the seed commit"))?;
    repo.set_head(&format!("refs/heads/{branch}"))
        .map_err(git("cannot set HEAD"))?;
    drop(tree);
    drop(repo);
    match std::fs::rename(&staging, bare) {
        Ok(()) => Ok(true),
        // Another process seeded it first: theirs stands.
        Err(_) if Repository::open_bare(bare).is_ok() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(false)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(io(e))
        }
    }
}

fn tempfile_dir(parent: &Path) -> std::io::Result<std::path::PathBuf> {
    let path = parent.join(format!(
        ".seed-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&path)?;
    Ok(path)
}

/// Writes `dir` into `repo` as a tree, files sorted by name, and returns its id.
fn write_tree(repo: &Repository, dir: &Path) -> Result<git2::Oid> {
    let read = |source| Error::Lock {
        path: dir.to_owned(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read)?
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort_by_key(|e| e.file_name());
    let mut builder = repo.treebuilder(None).map_err(git("cannot build a tree"))?;
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        if path.is_dir() {
            let id = write_tree(repo, &path)?;
            builder
                .insert(name.as_ref(), id, FileMode::Tree.into())
                .map_err(git("cannot add a folder"))?;
        } else {
            let contents = std::fs::read(&path).map_err(|source| Error::Lock {
                path: path.clone(),
                source,
            })?;
            let id = repo.blob(&contents).map_err(git("cannot write a blob"))?;
            builder
                .insert(name.as_ref(), id, FileMode::Blob.into())
                .map_err(git("cannot add a file"))?;
        }
    }
    builder.write().map_err(git("cannot write a tree"))
}
