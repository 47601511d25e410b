//! A commit's new objects as one pack, and a repository's packs kept few.
//!
//! An edit's new objects (each file's blob, the trees above it, the commit) are written to an
//! in-memory object database (libgit2's mempack) and land in the mirror, and in a local remote,
//! as one pack file each rather than one loose file per object. Creating files was what a
//! write spent its time on (a 20-app release makes 63 objects, written twice; `perf` showed
//! ext4's inode allocation on top), and one pack costs the same for one file as for twenty.
//!
//! Each write adds a pack. Past [`MAX_PACKS`] in one repository they are consolidated (see
//! [`consolidate`]), as `git gc --auto` does past `gc.autoPackLimit` (50), so that a lookup
//! never searches many indexes and each handle opened maps few files: the new pack is written
//! and indexed first, then each old pack's index and pack file are removed (index first, so
//! no new reader picks a pack about to go). A reader that had opened an old pack keeps its
//! mapping; the objects are all in the new one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use git2::{Buf, Mempack, ObjectType, Odb, Oid, Repository, Tree};

use super::{Error, Result, git};

/// Consolidate a repository's packs when it holds more than this many.
pub(super) const MAX_PACKS: usize = 8;

/// Above the loose (1) and pack (2) backends libgit2 opens by default, so writes go here.
const MEMPACK_PRIORITY: i32 = 1000;

/// Where an edit's objects are written until [`Pending::take`].
///
/// The mempack stays in the repository handle's object database until the handle is dropped,
/// and that handle must never list its objects: libgit2's `git_odb_foreach` calls every
/// backend's `foreach`, which mempack lacks (a crash, not an error; libgit2 1.9). `update`
/// opens a handle of its own for each write, and `consolidate` opens another.
pub(super) struct Pending<'odb> {
    odb: &'odb Odb<'odb>,
    mempack: Mempack<'odb>,
}

impl<'odb> Pending<'odb> {
    /// From now on, objects written through `odb`'s repository stay in memory.
    pub(super) fn new(odb: &'odb Odb<'odb>) -> Result<Self> {
        let mempack = odb
            .add_new_mempack_backend(MEMPACK_PRIORITY)
            .map_err(git("cannot open an in-memory object database"))?;
        Ok(Self { odb, mempack })
    }

    /// `commit` and the objects it adds to its first parent (its trees and blobs that differ)
    /// as one pack, now also stored in the repository's own object database; memory is
    /// emptied for the next edit. (libgit2's own dump packs the commit's whole tree.)
    pub(super) fn take(&self, repo: &Repository, commit: Oid) -> Result<Vec<u8>> {
        let mut builder = repo.packbuilder().map_err(git("cannot start a pack"))?;
        for id in added_by(repo, commit)? {
            builder
                .insert_object(id, None)
                .map_err(git(format!("cannot pack object {id}")))?;
        }
        let mut buf = Buf::new();
        builder
            .write_buf(&mut buf)
            .map_err(git("cannot pack the new objects"))?;
        let pack = buf.to_vec();
        store(self.odb, &pack)?;
        self.mempack
            .reset()
            .map_err(git("cannot empty the in-memory object database"))?;
        Ok(pack)
    }
}

/// `commit`, its tree and every tree and blob in it that its first parent's tree lacks at
/// the same path.
fn added_by(repo: &Repository, commit: Oid) -> Result<Vec<Oid>> {
    let commit = repo
        .find_commit(commit)
        .map_err(git(format!("cannot read commit {commit}")))?;
    let tree = commit
        .tree()
        .map_err(git("cannot read the commit's tree"))?;
    let base = match commit.parent(0) {
        Ok(parent) => Some(
            parent
                .tree()
                .map_err(git("cannot read the parent's tree"))?,
        ),
        Err(_) => None,
    };
    let mut ids = vec![commit.id()];
    added_trees(repo, base.as_ref(), &tree, &mut ids)?;
    Ok(ids)
}

fn added_trees(
    repo: &Repository,
    base: Option<&Tree<'_>>,
    tree: &Tree<'_>,
    ids: &mut Vec<Oid>,
) -> Result<()> {
    if base.is_some_and(|b| b.id() == tree.id()) {
        return Ok(());
    }
    ids.push(tree.id());
    for entry in tree.iter() {
        let before = base.and_then(|b| b.get_name_bytes(entry.name_bytes()));
        if before.as_ref().is_some_and(|b| b.id() == entry.id()) {
            continue;
        }
        match entry.kind() {
            Some(ObjectType::Tree) => {
                let subtree = repo
                    .find_tree(entry.id())
                    .map_err(git("cannot read a new tree"))?;
                let base_subtree = before
                    .filter(|b| b.kind() == Some(ObjectType::Tree))
                    .and_then(|b| repo.find_tree(b.id()).ok());
                added_trees(repo, base_subtree.as_ref(), &subtree, ids)?;
            }
            // Submodule commits are not objects of this repository.
            Some(ObjectType::Commit) => {}
            _ => ids.push(entry.id()),
        }
    }
    Ok(())
}

/// Writes `pack` (a complete pack, as [`Pending::take`] makes) into `odb`, indexed.
pub(super) fn store(odb: &Odb<'_>, pack: &[u8]) -> Result<()> {
    let mut writer = odb
        .packwriter()
        .map_err(git("cannot start writing a pack"))?;
    writer.write_all(pack).map_err(|e| Error::Git {
        context: "cannot write a pack".to_owned(),
        source: git2::Error::from_str(&e.to_string()),
    })?;
    writer.commit().map_err(git("cannot index a pack"))?;
    Ok(())
}

/// Consolidates the packs of the repository whose git folder is `git_dir` when it holds more
/// than [`MAX_PACKS`]; returns how many packs it replaced (0: nothing to do).
///
/// Geometric, as `git repack --geometric` is: the largest pack stays when it outweighs all
/// the others together, and only they are merged, so a long history is not rewritten whole
/// every few writes; once the merged pack outgrows it, everything (loose objects too) becomes
/// one pack.
pub(super) fn consolidate(git_dir: &Path) -> Result<usize> {
    let dir = git_dir.join("objects").join("pack");
    let mut old = packs(&dir);
    if old.len() <= MAX_PACKS {
        return Ok(0);
    }
    old.sort_by_key(|pack| std::cmp::Reverse(pack.size));
    let rest: u64 = old[1..].iter().map(|pack| pack.size).sum();
    let merged = if old[0].size > rest {
        &old[1..]
    } else {
        &old[..]
    };
    let repo = Repository::open_bare(git_dir)
        .map_err(git(format!("cannot open {} to pack it", git_dir.display())))?;
    let mut ids = Vec::new();
    if merged.len() == old.len() {
        let odb = repo.odb().map_err(git("cannot open the objects"))?;
        odb.foreach(|id| {
            ids.push(*id);
            true
        })
        .map_err(git("cannot list the objects"))?;
    } else {
        for pack in merged {
            ids.extend(indexed(&dir.join(format!("{}.idx", pack.stem)))?);
        }
    }
    let mut builder = repo.packbuilder().map_err(git("cannot start a pack"))?;
    for id in ids {
        builder
            .insert_object(id, None)
            .map_err(git(format!("cannot pack object {id}")))?;
    }
    builder
        .write(&dir, 0o444)
        .map_err(git("cannot write the consolidated pack"))?;
    let kept = builder
        .name()
        .map_err(git("cannot name the consolidated pack"))?
        .map(|name| format!("pack-{name}"));
    let mut replaced = 0;
    for pack in merged
        .iter()
        .filter(|pack| Some(&pack.stem) != kept.as_ref())
    {
        // The index first: a reader that does not see it never opens the pack.
        for extension in ["idx", "pack", "rev", "mtimes"] {
            let _ = std::fs::remove_file(dir.join(format!("{}.{extension}", pack.stem)));
        }
        replaced += 1;
    }
    tracing::debug!(repository = %git_dir.display(), replaced, "packs consolidated");
    Ok(replaced)
}

/// An indexed pack: its stem (`pack-<hash>`) and its pack file's size.
struct Pack {
    stem: String,
    size: u64,
}

/// The indexed packs in `dir`, skipping any kept by a `.keep`.
fn packs(dir: &Path) -> Vec<Pack> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "idx"))
        .filter(|path| !path.with_extension("keep").exists())
        .filter_map(|path| {
            let size = std::fs::metadata(path.with_extension("pack")).ok()?.len();
            let stem = path.file_stem()?.to_str()?.to_owned();
            Some(Pack { stem, size })
        })
        .collect()
}

/// The object ids a pack index lists (version 2, which git and libgit2 write: a magic
/// number, the version, 256 fan-out counts, then the sorted ids; gitformat-pack(5)).
fn indexed(idx: &Path) -> Result<Vec<Oid>> {
    let bad = |why: &str| Error::Git {
        context: format!("cannot read the pack index {}", idx.display()),
        source: git2::Error::from_str(why),
    };
    let bytes = std::fs::read(idx).map_err(|e| bad(&e.to_string()))?;
    const IDS: usize = 8 + 256 * 4;
    if bytes.len() < IDS || bytes[..4] != [0xff, b't', b'O', b'c'] || bytes[4..8] != [0, 0, 0, 2] {
        return Err(bad("not a version 2 pack index"));
    }
    let count = u32::from_be_bytes([
        bytes[IDS - 4],
        bytes[IDS - 3],
        bytes[IDS - 2],
        bytes[IDS - 1],
    ]) as usize;
    let ids = bytes
        .get(IDS..IDS + count * 20)
        .ok_or_else(|| bad("shorter than the objects it counts"))?;
    ids.chunks_exact(20)
        .map(|id| Oid::from_bytes(id).map_err(|e| bad(e.message())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A commit on `parent` of one file `name` holding `text`, written through `repo`.
    fn commit(repo: &Repository, parent: Option<Oid>, name: &str, text: &str) -> Oid {
        let parent = parent.map(|p| repo.find_commit(p).expect("parent"));
        let mut builder = repo
            .treebuilder(parent.as_ref().map(|p| p.tree().expect("tree")).as_ref())
            .expect("tree builder");
        let blob = repo.blob(text.as_bytes()).expect("blob");
        builder.insert(name, blob, 0o100644).expect("insert");
        let tree = repo
            .find_tree(builder.write().expect("tree"))
            .expect("tree");
        let signature = git2::Signature::now("t", "t@example.invalid").expect("signature");
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(None, &signature, &signature, "edit", &tree, &parents)
            .expect("commit")
    }

    /// Counted through a handle of its own: the one a mempack was added to cannot list.
    fn object_count(repo: &Repository) -> usize {
        let mut n = 0;
        Repository::open_bare(repo.path())
            .expect("reopen")
            .odb()
            .expect("odb")
            .foreach(|_| {
                n += 1;
                true
            })
            .expect("foreach");
        n
    }

    fn loose(repo: &Repository) -> usize {
        std::fs::read_dir(repo.path().join("objects"))
            .expect("objects")
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_name().len() == 2)
            .count()
    }

    #[test]
    fn each_commit_lands_as_one_pack_of_what_it_adds_and_many_packs_become_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repository::init_bare(dir.path()).expect("bare repository");
        let pack_dir = dir.path().join("objects").join("pack");
        let mut tips = Vec::new();
        {
            let odb = repo.odb().expect("odb");
            let pending = Pending::new(&odb).expect("mempack");
            let mut tip = None;
            for round in 0..=MAX_PACKS {
                let id = commit(
                    &repo,
                    tip,
                    &format!("file-{}", round % 4),
                    &format!("round {round}\n"),
                );
                let pack = pending.take(&repo, id).expect("take");
                assert!(pack.starts_with(b"PACK"), "a pack");
                // The commit, its tree and one blob: the three other files are the parent's.
                assert_eq!(
                    u32::from_be_bytes([pack[8], pack[9], pack[10], pack[11]]),
                    3
                );
                tip = Some(id);
                tips.push(id);
            }
        }
        assert_eq!(loose(&repo), 0, "no object was written loose");
        assert_eq!(packs(&pack_dir).len(), MAX_PACKS + 1);
        let objects = object_count(&repo);
        assert_eq!(objects, 3 * (MAX_PACKS + 1));

        assert_eq!(consolidate(dir.path()).expect("consolidate"), MAX_PACKS + 1);
        assert_eq!(packs(&pack_dir).len(), 1);
        let repo = Repository::open_bare(dir.path()).expect("reopen");
        for id in &tips {
            let commit = repo.find_commit(*id).expect("every commit is still there");
            for entry in commit.tree().expect("tree").iter() {
                repo.find_blob(entry.id()).expect("and every file");
            }
        }
        assert_eq!(object_count(&repo), objects);
        assert_eq!(
            consolidate(dir.path()).expect("again"),
            0,
            "one pack: nothing to do"
        );
    }

    #[test]
    fn a_large_pack_stays_while_it_outweighs_the_others() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = Repository::init_bare(dir.path()).expect("bare repository");
        let pack_dir = dir.path().join("objects").join("pack");
        let odb = repo.odb().expect("odb");
        let pending = Pending::new(&odb).expect("mempack");
        let mut tip = None;
        // One large pack: a commit of 60 files, each unlike the others.
        for file in 0..60 {
            let text: String = (0..40)
                .map(|i| format!("{:x}", (file * 7919 + i * 104_729) % 65_521))
                .collect();
            tip = Some(commit(&repo, tip, &format!("file-{file}"), &text));
            if file < 59 {
                pending.take(&repo, tip.expect("tip")).expect("take");
            }
        }
        pending.take(&repo, tip.expect("tip")).expect("take");
        assert_eq!(consolidate(dir.path()).expect("all"), 60);
        let large = packs(&pack_dir);
        assert_eq!(large.len(), 1);
        let mut ids = Vec::new();
        for round in 0..MAX_PACKS {
            let id = commit(&repo, tip, "small", &format!("round {round}\n"));
            pending.take(&repo, id).expect("take");
            tip = Some(id);
            ids.push(id);
        }
        assert_eq!(consolidate(dir.path()).expect("the small ones"), MAX_PACKS);
        let after = packs(&pack_dir);
        assert_eq!(after.len(), 2, "the large pack and the merged small ones");
        assert!(
            after.iter().any(|p| p.stem == large[0].stem),
            "the large pack stayed"
        );
        let reopened = Repository::open_bare(dir.path()).expect("reopen");
        for id in ids {
            reopened
                .find_commit(id)
                .expect("every small commit is there");
        }
    }

    #[test]
    fn a_pack_taken_from_one_repository_stores_in_another() {
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        let from = Repository::init_bare(a.path()).expect("from");
        let to = Repository::init_bare(b.path()).expect("to");
        let odb = from.odb().expect("odb");
        let pending = Pending::new(&odb).expect("mempack");
        let id = commit(&from, None, "values.yaml", "values\n");
        let pack = pending.take(&from, id).expect("take");
        store(&to.odb().expect("odb"), &pack).expect("store");
        let copied = to.find_commit(id).expect("copied");
        let tree = copied.tree().expect("tree");
        let entry = tree.get_name("values.yaml").expect("file");
        assert_eq!(
            to.find_blob(entry.id()).expect("blob").content(),
            b"values\n"
        );
    }
}
