use super::*;

#[test]
fn urls_lose_their_credentials() {
    assert_eq!(
        redact_url("https://user:tok@github.com/o/r.git"),
        "https://***@github.com/o/r.git"
    );
    assert_eq!(
        redact_url("https://github.com/o/r.git"),
        "https://github.com/o/r.git"
    );
    assert_eq!(redact_url("/srv/git/r.git"), "/srv/git/r.git");
}

#[test]
fn a_mirror_that_cannot_be_created_is_not_called_a_lock_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("write");
    let settings = GitOpsSettings {
        url: "/nowhere".to_owned(),
        branch: "main".to_owned(),
        author_name: "a".to_owned(),
        author_email: "a@example.invalid".to_owned(),
        push_attempts: 1,
        token: None,
    };
    let err = GitOpsRepo::open(settings, &file.join("mirror.git")).expect_err("refused");
    assert!(matches!(err, Error::CreateMirror { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot create the GitOps mirror's folder")
    );
}

/// A bare repository read as its own mirror, whose commits (flat trees of `name → text`)
/// are made straight into it.
struct Files {
    _dir: tempfile::TempDir,
    bare: git2::Repository,
    repo: GitOpsRepo,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gitops.git");
        let bare = git2::Repository::init_bare(&path).expect("bare repository");
        let settings = GitOpsSettings {
            url: path.display().to_string(),
            branch: "main".to_owned(),
            author_name: "a".to_owned(),
            author_email: "a@example.invalid".to_owned(),
            push_attempts: 1,
            token: None,
        };
        let repo = GitOpsRepo::open(settings, &path).expect("open");
        Self {
            _dir: dir,
            bare,
            repo,
        }
    }

    /// A commit holding `files` (the whole tree) on `parent`, with `subject`.
    fn commit(&self, parent: Option<&GitSha>, files: &[(&str, &str)], subject: &str) -> GitSha {
        let mut tree = self.bare.treebuilder(None).expect("tree builder");
        for (name, text) in files {
            let blob = self.bare.blob(text.as_bytes()).expect("blob");
            tree.insert(name, blob, 0o100_644).expect("insert");
        }
        let tree = self
            .bare
            .find_tree(tree.write().expect("tree"))
            .expect("tree");
        let signature = git2::Signature::now("a", "a@example.invalid").expect("signature");
        let parent = parent.map(|p| {
            self.bare
                .find_commit(Oid::from_str(p.as_str()).expect("oid"))
                .expect("parent")
        });
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let id = self
            .bare
            .commit(None, &signature, &signature, subject, &tree, &parents)
            .expect("commit");
        id.to_string().parse().expect("sha")
    }

    /// The subject of each path's last change, `-` for none.
    fn last(&self, tip: &GitSha, stop: Option<&GitSha>) -> Option<Vec<String>> {
        let paths = ["a", "b", "c", "d"].map(str::to_owned);
        self.repo
            .last_changes(tip, &paths, stop)
            .expect("walk")
            .map(|found| {
                found
                    .into_iter()
                    .map(|c| c.map_or_else(|| "-".to_owned(), |c| c.subject))
                    .collect()
            })
    }
}

#[test]
fn each_files_last_change_is_found_in_one_walk_and_from_a_known_tip_on() {
    let f = Files::new();
    let one = f.commit(None, &[("a", "1"), ("b", "1")], "one");
    let two = f.commit(Some(&one), &[("a", "2"), ("b", "1")], "two");
    let three = f.commit(Some(&two), &[("a", "2"), ("b", "1"), ("c", "1")], "three");
    let four = f.commit(Some(&three), &[("a", "2"), ("c", "1")], "four");
    // b was removed by four; d never existed.
    assert_eq!(
        f.last(&four, None).expect("from the root"),
        ["two", "four", "three", "-"]
    );
    // From two on, only what changed after it: a's last change is two's, which the caller has.
    assert_eq!(
        f.last(&four, Some(&two)).expect("two is on the line"),
        ["-", "four", "three", "-"]
    );
    assert_eq!(
        f.last(&four, Some(&four)).expect("nothing new"),
        ["-", "-", "-", "-"]
    );
    // A tip on another line (the branch rewritten) is not met: ask again from the root.
    let other = f.commit(Some(&one), &[("a", "9")], "other");
    assert_eq!(f.last(&four, Some(&other)), None);
}
