use super::*;

fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

const GOOD: &[(&str, &str)] = &[
    ("GITHUB_REPOSITORY", "paktech/paktech-gitops"),
    ("GITHUB_RUN_ID", "1234567890"),
    ("GITHUB_TOKEN", "ghs_topsecret"),
    ("GITHUB_ACTOR", "alice"),
];

fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = GOOD
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .copied()
        .collect();
    all.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
    all
}

#[test]
fn a_re_run_cannot_take_the_approvals_of_an_earlier_attempt() {
    // The first attempt, named or not, reads the run's reviews.
    GitHubRun::from_vars(vars(&with(&[("GITHUB_RUN_ATTEMPT", "1")]))).expect("first");
    GitHubRun::from_vars(vars(GOOD)).expect("unset is the first attempt");
    for attempt in ["2", "17"] {
        let err = GitHubRun::from_vars(vars(&with(&[("GITHUB_RUN_ATTEMPT", attempt)])))
            .expect_err("a re-run is refused");
        assert!(matches!(err, Error::ReRun { .. }), "{err}");
        assert!(err.to_string().contains("start a new run"), "{err}");
    }
    for bad in ["0", "x", "-1", "+2"] {
        let err =
            GitHubRun::from_vars(vars(&with(&[("GITHUB_RUN_ATTEMPT", bad)]))).expect_err("refused");
        assert!(
            err.to_string().starts_with("GITHUB_RUN_ATTEMPT is"),
            "{err}"
        );
    }
}

#[test]
fn the_run_is_read_from_the_environment() {
    let run = GitHubRun::from_vars(vars(GOOD)).expect("valid");
    assert_eq!(run.api, "https://api.github.com");
    assert_eq!(run.repository(), "paktech/paktech-gitops");
    assert_eq!(run.run_id(), 1_234_567_890);
    assert_eq!(run.requester(), "alice");
    assert_eq!(
        run.approvals_path(),
        "/repos/paktech/paktech-gitops/actions/runs/1234567890/approvals"
    );
    assert!(!format!("{run:?}").contains("topsecret"), "{run:?}");

    let run = GitHubRun::from_vars(vars(&with(&[
        ("GITHUB_TRIGGERING_ACTOR", "bob"),
        ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
    ])))
    .expect("valid");
    assert_eq!(run.requester(), "bob", "the triggering actor wins");
    assert_eq!(run.api, "https://ghe.example.com/api/v3");
}

#[test]
fn bad_variables_are_named() {
    let check = |changes: &[(&'static str, &'static str)], expected: &str| {
        let err = GitHubRun::from_vars(vars(&with(changes))).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains(expected), "{changes:?}: {text}");
        assert!(!text.contains("topsecret"), "{text}");
    };
    check(&[("GITHUB_REPOSITORY", "")], "GITHUB_REPOSITORY is not set");
    check(
        &[("GITHUB_REPOSITORY", "no-slash")],
        "GITHUB_REPOSITORY is \"no-slash\": expected owner/repository",
    );
    check(&[("GITHUB_REPOSITORY", "a/b/c")], "GITHUB_REPOSITORY");
    check(&[("GITHUB_REPOSITORY", "-x/y")], "GITHUB_REPOSITORY");
    check(&[("GITHUB_REPOSITORY", "x/..")], "GITHUB_REPOSITORY");
    check(&[("GITHUB_REPOSITORY", "x/a b")], "GITHUB_REPOSITORY");
    check(&[("GITHUB_RUN_ID", "")], "GITHUB_RUN_ID is not set");
    check(
        &[("GITHUB_RUN_ID", "12a")],
        "GITHUB_RUN_ID is \"12a\": expected the workflow run's numeric id",
    );
    check(&[("GITHUB_RUN_ID", "-1")], "GITHUB_RUN_ID");
    check(
        &[("GITHUB_RUN_ID", "99999999999999999999999")],
        "GITHUB_RUN_ID",
    );
    check(&[("GITHUB_TOKEN", "")], "GITHUB_TOKEN is not set");
    check(&[("GITHUB_ACTOR", "")], "GITHUB_ACTOR is not set");
    check(
        &[("GITHUB_ACTOR", "al ice")],
        "GITHUB_ACTOR is \"al ice\": expected a GitHub login",
    );
    check(
        &[("GITHUB_TRIGGERING_ACTOR", "x/y")],
        "GITHUB_TRIGGERING_ACTOR",
    );
    check(&[("GITHUB_API_URL", "ftp://x")], "GITHUB_API_URL");
    check(
        &[("GITHUB_API_URL", "http://api.github.com")],
        "GITHUB_API_URL",
    );
    check(&[("GITHUB_API_URL", "https://")], "GITHUB_API_URL");
    check(&[("GITHUB_API_URL", "https://u:p@host")], "GITHUB_API_URL");
}

#[test]
fn bots_are_logins() {
    let run =
        GitHubRun::from_vars(vars(&with(&[("GITHUB_ACTOR", "dependabot[bot]")]))).expect("valid");
    assert_eq!(run.requester(), "dependabot[bot]");
}

#[test]
fn next_links_are_found() {
    let check = |header: &str, expected: Option<&str>| {
        assert_eq!(next_link(header).as_deref(), expected, "{header}");
    };
    check(
        r#"<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last""#,
        Some("https://api.github.com/x?page=2"),
    );
    check(
        r#"<https://api.github.com/x?page=1>; rel="prev", <https://api.github.com/x?page=3>; rel="next""#,
        Some("https://api.github.com/x?page=3"),
    );
    check(r#"<https://a/x?page=1>; rel="first""#, None);
    check("<https://a/x?page=2>; rel=next", Some("https://a/x?page=2"));
    check(
        r#"<https://a/x?page=2>; REL="last next""#,
        Some("https://a/x?page=2"),
    );
    check("", None);
    check("garbage", None);
}

#[test]
fn approved_for_keeps_approvals_of_that_environment() {
    let review = |reviewer: &str, state: ReviewState, envs: &[&str]| RunApproval {
        reviewer: reviewer.to_owned(),
        state,
        environments: envs.iter().map(|e| (*e).to_owned()).collect(),
        comment: None,
    };
    let approvals = vec![
        review("carol", ReviewState::Approved, &["prod"]),
        review("dave", ReviewState::Rejected, &["prod"]),
        review("erin", ReviewState::Approved, &["staging"]),
        review("frank", ReviewState::Approved, &["staging", "prod"]),
        review("gina", ReviewState::Other("pending".into()), &["prod"]),
    ];
    assert_eq!(
        approved_for(&approvals, "prod").collect::<Vec<_>>(),
        ["carol", "frank"]
    );
    assert_eq!(
        approved_for(&approvals, "staging").collect::<Vec<_>>(),
        ["erin", "frank"]
    );
    assert_eq!(approved_for(&approvals, "dev").count(), 0);
}
