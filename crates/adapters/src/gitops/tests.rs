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
