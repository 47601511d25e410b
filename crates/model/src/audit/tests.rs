use super::*;

#[test]
fn round_trips_subject_body_and_trailers() {
    let message = CommitMessage {
        body: Some("Built by run 7.".to_owned()),
        ..CommitMessage::new("chore(dev): bump paktech-app to abc")
    }
    .trailer(keys::ACTION, "deploy")
    .trailer(keys::IMAGE_SHA, "abc");
    let text = message.to_string();
    assert_eq!(
        text,
        "chore(dev): bump paktech-app to abc\n\nBuilt by run 7.\n\nPipeline-Action: deploy\nImage-Sha: abc\n"
    );
    assert_eq!(CommitMessage::parse(&text), message);
}

fn record(message: &CommitMessage) -> CommitRecord {
    CommitRecord::read_back("1".repeat(40).parse().expect("sha"), 0, message)
}

#[test]
fn each_app_a_commit_moved_reads_back_with_its_build() {
    let build = |app, sha, digest| Build { app, sha, digest };
    let one = record(&CommitMessage::new("s").builds(&[build("a", "sa", "da")]));
    assert_eq!(one.trailer(keys::APP), Some("a"));
    assert_eq!(one.trailer(keys::IMAGE_SHA), Some("sa"));
    assert_eq!(one.build_of("a"), Some("sa"));
    assert_eq!(one.build_of("b"), None, "it names its app");
    let several = record(
        &CommitMessage::new("s")
            .builds(&[build("a", "sa", "da"), build("b", "sb", "db")])
            .trailer(keys::APP_SCAN, "b critical=0"),
    );
    assert_eq!(several.trailer(keys::IMAGE_SHA), None);
    assert_eq!(several.build_of("a"), Some("sa"));
    assert_eq!(several.build_of("b"), Some("sb"));
    assert_eq!(several.digest_of("b"), Some("db"));
    assert_eq!(several.scan_of("b"), (Some("critical=0"), None));
    assert_eq!(several.scan_of("a"), (None, None));
    assert_eq!(several.builds("x").len(), 2);
    // A commit from before apps were named speaks for the file it is read from.
    let old = record(&CommitMessage::new("s").trailer(keys::IMAGE_SHA, "so"));
    assert_eq!(old.build_of("anything"), Some("so"));
}

#[test]
fn applied_vex_statements_are_named_per_app_as_builds_are() {
    let lines = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let one = CommitMessage::new("s").vex_applied(&[(
        "a",
        lines(&["security/vex/a.json#0 CVE-1", "security/vex/a.json#2 CVE-2"]),
    )]);
    let several = CommitMessage::new("s").vex_applied(&[
        ("a", lines(&["security/vex/a.json#0 CVE-1"])),
        ("b", Vec::new()),
    ]);
    let pairs = |m: &CommitMessage| {
        CommitMessage::parse(&m.to_string())
            .trailers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pairs(&one),
        [
            "Vex-Applied: security/vex/a.json#0 CVE-1",
            "Vex-Applied: security/vex/a.json#2 CVE-2"
        ]
    );
    assert_eq!(
        pairs(&several),
        ["App-Vex-Applied: a security/vex/a.json#0 CVE-1"]
    );
    assert!(
        CommitMessage::new("s")
            .vex_applied(&[("a", Vec::new())])
            .trailers
            .is_empty()
    );
    // Read back per app, beside the builds they were written with.
    let build = |app, sha| Build {
        app,
        sha,
        digest: "d",
    };
    let one = record(&one.builds(&[build("a", "sa")]));
    assert_eq!(
        one.vex_of("a"),
        ["security/vex/a.json#0 CVE-1", "security/vex/a.json#2 CVE-2"]
    );
    assert!(one.vex_of("b").is_empty());
    let several = record(&several.builds(&[build("a", "sa"), build("b", "sb")]));
    assert_eq!(several.vex_of("a"), ["security/vex/a.json#0 CVE-1"]);
    assert!(several.vex_of("b").is_empty());
}

#[test]
fn values_cannot_forge_trailers() {
    let message =
        CommitMessage::new("s").trailer(keys::REQUESTED_BY, "mallory\nPipeline-Action: rollback");
    let parsed = CommitMessage::parse(&message.to_string());
    assert_eq!(parsed.trailers.len(), 1);
    assert_eq!(
        parsed.get(keys::REQUESTED_BY),
        Some("mallory Pipeline-Action: rollback")
    );
    assert_eq!(parsed.get(keys::ACTION), None);
}

#[test]
fn empty_values_add_no_trailer() {
    let message = CommitMessage::new("s")
        .trailer(keys::ACTION, "approve")
        .trailer("Comment", "  ");
    let parsed = CommitMessage::parse(&message.to_string());
    assert_eq!(
        parsed.trailers,
        vec![(keys::ACTION.to_owned(), "approve".to_owned())]
    );
}

#[test]
fn a_message_without_trailers_has_none() {
    let parsed = CommitMessage::parse("fix: typo\n\nJust prose here.\n");
    assert!(parsed.trailers.is_empty());
    assert_eq!(parsed.body.as_deref(), Some("Just prose here."));
}
