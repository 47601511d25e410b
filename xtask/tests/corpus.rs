//! Hostile and malformed input at every entry point: each is refused before anything is
//! written, with exit code 2 and a message that names the input; afterwards the GitOps
//! repository's refs are exactly what they were.

use std::path::Path;
use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const GOOD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Case {
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// A fragment the error message must contain.
    names: String,
}

fn case(args: &[&str], names: &str) -> Case {
    Case {
        args: args.iter().map(|s| (*s).to_owned()).collect(),
        env: Vec::new(),
        names: names.to_owned(),
    }
}

fn refs(remote: &Path) -> String {
    let out = Command::new("git")
        .args(["for-each-ref", "--format=%(refname) %(objectname)"])
        .current_dir(remote)
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_hostile_input_is_refused_before_any_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let remote = dir.path().join("gitops.git");
    adapters::gitops::seed_bare_repository(
        &remote,
        &workspace.join("gitops"),
        "main",
        ("seed", "seed@example.invalid"),
    )
    .expect("seed");
    let before = refs(&remote);

    let mut cases = Vec::new();
    // SHAs, at every command that takes one.
    let bad_shas = [
        "0123456",                                       // short
        "0123456789abcdef0123456789abcdef012345678",     // 41 characters
        "0123456789ABCDEF0123456789ABCDEF01234567",      // uppercase
        "g123456789abcdef0123456789abcdef01234567",      // not hex
        "$(touch /tmp/paktech-pwned)aaaaaaaaaaaaaa",     // command substitution
        "0123456789abcdef0123456789abcdef0123456;",      // shell separator
        "0123456789abcdef0123456789abcdef0123456\n",     // newline
        "0123456789abcdef0123456789abcdef012345\u{430}", // Cyrillic look-alike
        "",                                              // empty
        " 0123456789abcdef0123456789abcdef01234567",     // padded
    ];
    for sha in bad_shas {
        cases.push(case(
            &["promote", "--env", "prod", "--sha", sha],
            "invalid git SHA",
        ));
        cases.push(case(
            &["approve", "--env", "prod", "--sha", sha, "--as", "bob"],
            "invalid git SHA",
        ));
        cases.push(case(&["sbom", "--sha", sha], "invalid image tag"));
    }
    for sha in &bad_shas[..4] {
        cases.push(case(
            &["unblock", "--sha", sha, "--reason", "x"],
            "invalid git SHA",
        ));
        cases.push(case(
            &["rollback", "--env", "prod", "--to", sha, "--reason", "x"],
            "invalid git SHA",
        ));
    }
    // Environment names.
    for env in ["qa", "", "../prod", "prod/", "PROD", "prod;id", " prod"] {
        cases.push(case(&["promote", "--env", env], "unknown environment"));
        cases.push(case(&["sync", "--env", env], "unknown environment"));
        cases.push(case(&["sbom", "--env", env], "unknown environment"));
    }
    cases.push(case(
        &["history", "--env", "../../etc"],
        "unknown environment",
    ));
    cases.push(case(
        &["promote", "--env", "dev", "--sha", GOOD_SHA, "--as", ""],
        "invalid identity",
    ));
    // Identities and free text with control characters.
    for who in [
        "alice\nPipeline-Action: rollback",
        "bob\u{7}",
        "   ",
        &"x".repeat(101),
        "\u{202e}ecila",  // right-to-left override: displays as "alice"
        "bo\u{200b}b",    // zero-width space: displays as "bob"
        "bob\u{2066}",    // left-to-right isolate
        "bob\u{a0}smith", // no-break space
    ] {
        cases.push(case(
            &["approve", "--env", "prod", "--sha", GOOD_SHA, "--as", who],
            "invalid identity",
        ));
    }
    cases.push(case(
        &[
            "rollback",
            "--env",
            "prod",
            "--reason",
            "oops\nReverts: HEAD",
        ],
        "invalid --reason",
    ));
    cases.push(case(
        &["rollback", "--env", "prod", "--reason", "fine\u{202e}enif"],
        "invalid --reason",
    ));
    cases.push(case(
        &[
            "approve",
            "--env",
            "prod",
            "--sha",
            GOOD_SHA,
            "--as",
            "bob",
            "--comment",
            "ok\r\nApproved-By: eve",
        ],
        "invalid --comment",
    ));

    // Malformed pipeline.toml.
    let good = std::fs::read_to_string(workspace.join("pipeline.toml")).expect("pipeline.toml");
    let configs = [
        (
            "unknown-key",
            format!("{good}\n[surprise]\nx = 1\n"),
            "unknown field `surprise`",
        ),
        (
            "missing-app",
            good.replace("[[apps]]", "[[not-apps]]"),
            "unknown field `not-apps`",
        ),
        (
            "no-app",
            format!(
                "{}[gitops]{}",
                &good[..good.find("[[apps]]").expect("[[apps]]")],
                good.split_once("[gitops]").expect("[gitops]").1
            ),
            "missing field `apps`",
        ),
        (
            "dependency-cycle",
            good.replace(
                "name = \"paktech-app\"\n",
                "name = \"paktech-app\"\ndepends_on = [\"paktech-gateway\"]\n",
            ),
            "form a cycle",
        ),
        (
            "unknown-dependency",
            good.replace(
                "depends_on = [\"paktech-app\"]",
                "depends_on = [\"paktech-db\"]",
            ),
            "\"paktech-db\" is not an app of this file",
        ),
        (
            "bad-duration",
            good.replace("monitor = \"5m\"", "monitor = \"soonish\""),
            "expected a duration",
        ),
        (
            "duplicate-env",
            good.replace("name = \"staging\"", "name = \"dev\""),
            "appears twice",
        ),
        ("not-toml", "[app\nname = ".to_owned(), "TOML parse error"),
        (
            "bad-repository",
            good.replace(
                "repository = \"paktech-app\"",
                "repository = \"Not A Repo\"",
            ),
            "image repository",
        ),
    ];
    for (name, text, names) in configs {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, text).expect("write");
        let mut c = case(&["sync", "--env", "dev"], names);
        c.env
            .push(("PAKTECH_CONFIG".to_owned(), path.display().to_string()));
        cases.push(c);
    }

    // Scanner reports.
    let reports: [(&str, &[u8], &str, &str); 6] = [
        (
            "truncated.json",
            b"{\"matches\": [{\"vulnerability\": {\"id\": \"CVE-1\"",
            "grype",
            "not a grype JSON report",
        ),
        (
            "mistyped.json",
            b"{\"matches\": 5}",
            "grype",
            "not a grype JSON report",
        ),
        ("array.json", b"[]", "grype", "not a grype JSON report"),
        ("empty.json", b"", "grype", "not a grype JSON report"),
        (
            "text.json",
            b"Passed checks: 12, Failed checks: 0",
            "checkov",
            "not a Checkov JSON report",
        ),
        (
            "html.json",
            b"<html>502 Bad Gateway</html>",
            "checkov",
            "not a Checkov JSON report",
        ),
    ];
    for (file, bytes, kind, names) in reports {
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).expect("write");
        let mut c = case(
            &[
                "scan",
                "--kind",
                kind,
                "--report",
                path.to_str().expect("utf-8"),
            ],
            names,
        );
        c.names = format!("{file}: {names}");
        cases.push(c);
    }

    // GitHub's approvals: the run's variables are checked first, and the requester is who
    // started the run, never a name given with --as.
    let mut github = case(
        &[
            "promote",
            "--env",
            "prod",
            "--sha",
            GOOD_SHA,
            "--approval",
            "github",
        ],
        "GITHUB_RUN_ID",
    );
    github.env.extend([
        ("GITHUB_REPOSITORY".to_owned(), "paktech/app".to_owned()),
        ("GITHUB_RUN_ID".to_owned(), "12;rm".to_owned()),
        ("GITHUB_TOKEN".to_owned(), "x".to_owned()),
        ("GITHUB_ACTOR".to_owned(), "alice".to_owned()),
    ]);
    cases.push(github);
    cases.push(case(
        &[
            "promote",
            "--env",
            "prod",
            "--sha",
            GOOD_SHA,
            "--approval",
            "github",
            "--as",
            "bob",
        ],
        "--as cannot be combined with --approval github",
    ));

    // Input files that are missing or folders, and a clock that is not a time.
    let missing = dir.path().join("no-such-report.json");
    let missing = missing.to_str().expect("utf-8");
    let folder = dir.path().to_str().expect("utf-8");
    cases.push(case(&["scan", "--report", missing], "cannot read --report"));
    cases.push(case(&["scan", "--report", folder], "it is a directory"));
    cases.push(case(
        &["ci", "--skip-tests", "--scan-report", missing],
        "cannot read --scan-report",
    ));
    cases.push(case(
        &["ci", "--skip-tests", "--scan-report", folder],
        "it is a directory",
    ));
    let mut late = case(
        &["promote", "--env", "prod", "--sha", GOOD_SHA, "--no-wait"],
        "invalid PAKTECH_NOW",
    );
    late.env
        .push(("PAKTECH_NOW".to_owned(), "tonight".to_owned()));
    cases.push(late);

    // Values files of the wrong shape, or with a key twice.
    let values: [(&str, &str, &str); 4] = [
        (
            "list",
            "- image\n- tag\n",
            "expected a mapping at the top level, found a sequence",
        ),
        (
            "scalar",
            "just text\n",
            "expected a mapping at the top level, found a scalar",
        ),
        (
            "duplicate",
            "image:\n  tag: \"\"\n  tag: \"x\"\n",
            "key image.tag appears twice",
        ),
        (
            "no-tag",
            "image:\n  repository: \"paktech-app\"\n",
            "has no scalar at image.tag",
        ),
    ];
    for (name, text, names) in values {
        let copy = dir.path().join(format!("gitops-{name}"));
        copy_dir(&workspace.join("gitops"), &copy);
        std::fs::write(copy.join("apps/paktech-app/dev/values.yaml"), text).expect("write");
        cases.push(case(
            &["lint", "--gitops", copy.to_str().expect("utf-8")],
            names,
        ));
    }

    assert!(cases.len() >= 40, "{} cases", cases.len());
    eprintln!("{} hostile inputs", cases.len());
    for c in &cases {
        let out = Command::new(XTASK)
            .args(&c.args)
            .env("PAKTECH_GITOPS_URL", &remote)
            .env("PAKTECH_NOW", tests::DAYTIME)
            .env("PAKTECH_STATE_DIR", dir.path().join("state"))
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .envs(c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run xtask");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{:?}: {stderr}", c.args);
        assert!(
            stderr.contains(&c.names),
            "{:?}: expected {:?} in: {stderr}",
            c.args,
            c.names
        );
    }
    assert!(
        !Path::new("/tmp/paktech-pwned").exists(),
        "an input ran a command"
    );
    assert_eq!(
        refs(&remote),
        before,
        "the GitOps repository's refs are unchanged"
    );
    assert!(
        !dir.path().join("state").exists(),
        "nothing was written to the state folder"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}
