//! Secrets never appear in output: `ci`, `promote` and `status` run with the Slack webhook,
//! the GitOps token and a registry password set to recognisable values, at the most verbose
//! log level; none of them may show up in stdout, stderr, the `--json` reports or the commit
//! messages.

use std::process::Command;

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const SLACK_SECRET: &str = "SLACKSECRET9f8e7d6c";
const GITOPS_SECRET: &str = "GITOPSSECRET1a2b3c4d";
const REGISTRY_SECRET: &str = "REGISTRYSECRET5e6f7a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output() {
    if tests::docker_or_skip("secrets").await.is_none() {
        return;
    }
    // A Slack that fails, so error paths (which are likelier to print a URL) run too.
    let port = tests::failing_http_server().await;

    let dir = tempfile::tempdir().expect("tempdir");
    let remote = tests::seeded_remote(dir.path());
    let prefix = tests::unique_prefix("secrets");
    let _cleanup = tests::Cleanup::new(&prefix);
    let run = |args: &[&str]| {
        let out = Command::new(XTASK)
            .args(args)
            .env("RUST_LOG", "trace")
            .env(
                "SLACK_WEBHOOK_URL",
                format!("http://127.0.0.1:{port}/services/T000/B000/{SLACK_SECRET}"),
            )
            .env("GITOPS_TOKEN", GITOPS_SECRET)
            .env("REGISTRY_USERNAME", "robot")
            .env("REGISTRY_PASSWORD", REGISTRY_SECRET)
            .env("PAKTECH_GITOPS_URL", &remote)
            .env("PAKTECH_NOW", tests::DAYTIME)
            .env("PAKTECH_STATE_DIR", dir.path().join("state"))
            .env("PAKTECH_TARGET_PREFIX", &prefix)
            .output()
            .expect("run xtask");
        format!(
            "{args:?} exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let mut transcript = String::new();
    transcript.push_str(&run(&["ci", "--skip-tests", "--allow-dirty", "--json"]));
    transcript.push_str(&run(&[
        "promote",
        "--env",
        "staging",
        "--json",
        "--monitor",
        "0s",
    ]));
    transcript.push_str(&run(&[
        "rollback",
        "--env",
        "dev",
        "--reason",
        "secrets test",
        "--json",
    ]));
    transcript.push_str(&run(&["status", "--json"]));
    transcript.push_str(&run(&["history", "--json"]));
    transcript.push_str(&tests::git_cli(&remote, &["log", "--all", "--format=%B"]));
    assert!(
        transcript.contains("\"steps\""),
        "the runs happened:\n{transcript}"
    );
    assert!(
        transcript.contains("slack"),
        "the failing Slack was reported:\n{transcript}"
    );
    for secret in [SLACK_SECRET, GITOPS_SECRET, REGISTRY_SECRET] {
        assert!(
            !transcript.contains(secret),
            "{secret} leaked:\n{transcript}"
        );
    }
}
