//! The GitOps adapter against real repositories: a bare repository as the remote, mirrors in
//! temp dirs, and the git CLI reading the result.

use std::sync::Arc;

use adapters::gitops::{Change, Error, GitOpsRepo, Written};
use model::audit::{CommitMessage, keys};
use model::values::Scalar;

const DEV: &str = "apps/paktech-app/dev/values.yaml";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn change(key: &str, value: &str) -> Change {
    Change::one(
        DEV,
        vec![(key.to_owned(), Scalar::str(value))],
        None,
        CommitMessage::new(format!("chore(dev): set {key}"))
            .trailer(keys::ACTION, "deploy")
            .trailer(keys::IMAGE_SHA, value),
    )
}

#[test]
fn write_commits_once_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = tests::seeded_remote(dir.path());
    let repo = GitOpsRepo::open(tests::gitops_settings(&remote), &dir.path().join("mirror"))
        .expect("open");
    let seed = repo.fetch().expect("fetch");
    let before = repo.read(&seed, DEV).expect("read").expect("dev values");

    let first = repo.write(&change("image.tag", SHA)).expect("write");
    let Written::Committed { revision, attempts } = first.clone() else {
        panic!("expected a commit, got {first:?}");
    };
    assert_eq!(attempts, 1);
    let after = repo
        .read(&revision, DEV)
        .expect("read")
        .expect("dev values");
    assert_eq!(
        after,
        before.replace("tag: \"\"", &format!("tag: \"{SHA}\""))
    );

    let second = repo.write(&change("image.tag", SHA)).expect("write");
    assert_eq!(
        second,
        Written::Unchanged {
            revision: revision.clone()
        }
    );

    let log = tests::git_cli(&remote, &["log", "--format=%H %s", "main"]);
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(
        log.starts_with(&format!("{revision} chore(dev): set image.tag")),
        "{log}"
    );
    let trailers = tests::git_cli(
        &remote,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Image-Sha,valueonly)",
            "main",
        ],
    );
    assert_eq!(trailers.trim(), SHA);
    tests::git_cli(&remote, &["fsck", "--strict"]);

    let history = repo.log(&revision, Some(DEV), 10).expect("log");
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].trailer(keys::IMAGE_SHA), Some(SHA));
    assert_eq!(history[0].author, "paktech-pipeline");
}

#[test]
fn twenty_concurrent_writers_all_land_once_in_a_linear_history() {
    const WRITERS: usize = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = tests::seeded_remote(dir.path());
    // Give the file one key per writer, so each writer's edit is distinct.
    let setup =
        GitOpsRepo::open(tests::gitops_settings(&remote), &dir.path().join("setup")).expect("open");
    let tip = setup.fetch().expect("fetch");
    let text = setup.read(&tip, DEV).expect("read").expect("values");
    let keys: String = (0..WRITERS).map(|i| format!("  w{i:02}: \"\"\n")).collect();
    tests::commit_by_hand(
        &remote,
        DEV,
        &format!("{text}writers:\n{keys}"),
        "add writer keys",
    );

    let remote = Arc::new(remote);
    let dir_path = Arc::new(dir.path().to_owned());
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let remote = Arc::clone(&remote);
            let dir_path = Arc::clone(&dir_path);
            std::thread::spawn(move || {
                let repo = GitOpsRepo::open(
                    tests::gitops_settings(&remote),
                    &dir_path.join(format!("mirror-{i}")),
                )
                .expect("open");
                repo.write(&change(&format!("writers.w{i:02}"), &format!("writer-{i}")))
                    .expect("every writer lands")
            })
        })
        .collect();
    let results: Vec<Written> = handles
        .into_iter()
        .map(|h| h.join().expect("writer thread"))
        .collect();
    assert!(
        results
            .iter()
            .all(|w| matches!(w, Written::Committed { .. })),
        "{results:?}"
    );

    let log = tests::git_cli(&remote, &["log", "--format=%H %P", "main"]);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines.len(),
        WRITERS + 2,
        "seed + setup + one commit per writer:\n{log}"
    );
    assert!(
        lines.iter().all(|l| l.split_whitespace().count() <= 2),
        "linear (no merges):\n{log}"
    );
    let final_text = tests::git_cli(&remote, &["show", &format!("main:{DEV}")]);
    for i in 0..WRITERS {
        assert!(
            final_text.contains(&format!("w{i:02}: \"writer-{i}\"")),
            "writer {i} lost:\n{final_text}"
        );
    }
    let subjects = tests::git_cli(&remote, &["log", "--format=%s", "main"]);
    for i in 0..WRITERS {
        let subject = format!("chore(dev): set writers.w{i:02}");
        assert_eq!(
            subjects.lines().filter(|s| *s == subject).count(),
            1,
            "writer {i} exactly once"
        );
    }
    tests::git_cli(&remote, &["fsck", "--strict"]);
}

#[test]
fn a_true_conflict_stops_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = tests::seeded_remote(dir.path());
    let ours =
        GitOpsRepo::open(tests::gitops_settings(&remote), &dir.path().join("ours")).expect("open");
    let theirs = GitOpsRepo::open(tests::gitops_settings(&remote), &dir.path().join("theirs"))
        .expect("open");
    // We planned from tag "" ...
    let mut planned = change("image.tag", SHA);
    planned.files[0].planned_from = Some(vec![String::new()]);
    // ... and meanwhile someone else set it to another build.
    let other = "fedcba9876543210fedcba9876543210fedcba98";
    let Written::Committed {
        revision: theirs_rev,
        ..
    } = theirs.write(&change("image.tag", other)).expect("theirs")
    else {
        panic!("theirs should commit");
    };
    let err = ours.write(&planned).expect_err("conflict");
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(other) && message.contains(SHA) && message.contains("Nothing was written"),
        "{message}"
    );
    assert_eq!(
        tests::git_cli(&remote, &["rev-parse", "main"]).trim(),
        theirs_rev.as_str()
    );
}

#[test]
fn an_unreachable_remote_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-remote.git");
    let repo = GitOpsRepo::open(tests::gitops_settings(&missing), &dir.path().join("mirror"))
        .expect("open");
    let err = repo
        .write(&change("image.tag", SHA))
        .expect_err("unreachable");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot fetch main from the GitOps remote"),
        "{message}"
    );
    assert!(message.contains("no-such-remote.git"), "{message}");
    assert!(
        !missing.exists(),
        "nothing was created at the remote's path"
    );
}

#[test]
fn a_values_file_of_the_wrong_shape_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let remote = tests::seeded_remote(dir.path());
    tests::commit_by_hand(&remote, DEV, "- just\n- a list\n", "break dev");
    let before = tests::git_cli(&remote, &["rev-parse", "main"]);

    let repo = GitOpsRepo::open(tests::gitops_settings(&remote), &dir.path().join("mirror"))
        .expect("open");
    let err = repo.write(&change("image.tag", SHA)).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "apps/paktech-app/dev/values.yaml: expected a mapping at the top level, found a sequence"
    );
    assert_eq!(tests::git_cli(&remote, &["rev-parse", "main"]), before);
}
