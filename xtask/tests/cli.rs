//! The command line as a user meets it: real fixtures in, exit codes and messages out.
//! None of these needs Docker: each is answered (or refused) before the engine is contacted.

use std::path::Path;
use std::process::{Command, Output};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn xtask(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(XTASK)
        .args(args)
        .envs(env.iter().copied())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run xtask")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn scan_reads_every_shared_grype_report_with_exact_counts() {
    let Some(shared) = tests::shared_or_skip("cli") else {
        return;
    };
    let expected = [
        ("TestEmptyJsonPresenter.json", [0, 0, 0, 0, 0, 0]),
        ("TestJsonImgsPresenter.json", [1, 0, 0, 1, 0, 0]),
        ("TestJsonDirsPresenter.json", [1, 0, 0, 1, 0, 0]),
    ];
    for (file, [critical, high, medium, low, negligible, unknown]) in expected {
        let path = shared.join("fixtures/grype").join(file);
        let out = xtask(
            &["scan", "--report", path.to_str().expect("utf-8"), "--json"],
            &[],
        );
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(
            json["counts"],
            serde_json::json!({"critical": critical, "high": high, "medium": medium, "low": low,
                               "negligible": negligible, "unknown": unknown}),
            "{file}"
        );
    }
}

#[test]
fn a_truncated_report_is_refused_naming_file_and_position() {
    let Some(shared) = tests::shared_or_skip("cli") else {
        return;
    };
    let whole =
        std::fs::read(shared.join("fixtures/grype/TestJsonImgsPresenter.json")).expect("fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &whole[..whole.len() / 2]).expect("write");
    let out = xtask(
        &["scan", "--report", truncated.to_str().expect("utf-8")],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("truncated.json: not a grype JSON report at line"),
        "{message}"
    );
}

#[test]
fn lint_agrees_with_the_projects_gitops_content() {
    let out = xtask(&["lint"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_malformed_pipeline_toml_is_refused_naming_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("pipeline.toml");
    let good =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../pipeline.toml"))
            .expect("read");
    std::fs::write(
        &config,
        good.replace("push_attempts = 30", "push_attempts = \"many\""),
    )
    .expect("write");
    let state = dir.path().join("state");
    let out = xtask(
        &["sync", "--env", "dev"],
        &[
            ("PAKTECH_CONFIG", config.to_str().expect("utf-8")),
            ("PAKTECH_STATE_DIR", state.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("pipeline.toml") && message.contains("push_attempts"),
        "{message}"
    );
    assert!(!state.exists(), "nothing was written");
}

#[test]
fn an_unknown_environment_is_refused_before_anything_is_touched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    for env in ["qa", "../prod", "prod/", ""] {
        let out = xtask(
            &["sync", "--env", env],
            &[("PAKTECH_STATE_DIR", state.to_str().expect("utf-8"))],
        );
        assert_eq!(out.status.code(), Some(2), "{env:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("expected one of dev, staging, prod"),
            "{env:?}: {}",
            stderr(&out)
        );
    }
    assert!(!state.exists(), "nothing was written");
}

#[test]
fn usage_errors_exit_2() {
    let out = xtask(&["promote-everything"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = xtask(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn infra_without_terraform_is_a_clear_error() {
    let out = Command::new(XTASK)
        .args(["infra", "plan"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("run xtask");
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(message.contains("cannot run terraform"), "{message}");
    assert!(message.contains("hint: install terraform"), "{message}");
}

#[test]
fn cluster_targets_refuse_what_a_cluster_cannot_do() {
    // The project's pipeline.toml names the local engine's repository, which no cluster can
    // pull from: a cluster target refuses it before any Kubernetes call.
    let out = xtask(&["status", "--target", "aks"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("paktech-app's repository is \"paktech-app\"; a cluster target needs a registry it can pull from"),
        "{}",
        stderr(&out)
    );
    // Argo CD self-heals; --watch is the local target's.
    let out = xtask(&["sync", "--watch", "--target", "kind"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--watch repairs the local target"),
        "{}",
        stderr(&out)
    );
    // The same choice through the environment.
    let out = xtask(&["sync", "--watch"], &[("PAKTECH_TARGET", "kind")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = xtask(&["status", "--target", "openshift"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn vex_sign_writes_the_signature_check_then_admits_and_bad_input_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let key = ::supply_chain::cosign::SigningKey::generate();
    std::fs::write(root.join("cosign.key"), key.to_pem().expose()).expect("key");
    std::fs::write(root.join("cosign.pub"), key.public_key().to_pem()).expect("pub");
    let vex = root.join("vex");
    std::fs::create_dir(&vex).expect("vex dir");
    let project = std::fs::read_to_string(tests::workspace().join("pipeline.toml")).expect("toml");
    let config = |trusted: bool| {
        let keys = if trusted {
            format!("public_keys = [\"{}\"]", root.join("cosign.pub").display())
        } else {
            "public_keys = [\"keys/cosign.pub\"]".to_owned()
        };
        let text = format!(
            "{}\n[supply_chain.vex]\ndir = \"{}\"\nauthors = [\"security@paktech.example\"]\nmax_age = \"100000d\"\n",
            project.replace("public_keys = [\"keys/cosign.pub\"]", &keys),
            vex.display()
        );
        let path = root.join(format!("pipeline-{trusted}.toml"));
        std::fs::write(&path, text).expect("config");
        path
    };
    let (untrusted, trusted) = (config(false), config(true));
    let env = |config: &Path| {
        vec![
            ("PAKTECH_CONFIG", config.display().to_string()),
            (
                "PAKTECH_STATE_DIR",
                root.join("state").display().to_string(),
            ),
            (
                "PAKTECH_SIGNING_KEY_FILE",
                root.join("cosign.key").display().to_string(),
            ),
        ]
    };
    let run = |args: &[&str], config: &Path| {
        let env = env(config);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        xtask(args, &env)
    };
    let file = vex.join("app.json");
    let name = file.display().to_string();
    std::fs::write(
        &file,
        r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://paktech.example/vex/1",
            "author": "security@paktech.example", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
            "statements": [{"vulnerability": {"name": "CVE-1999-0002"},
              "products": [{"@id": "pkg:oci/paktech-app"}],
              "status": "not_affected", "justification": "component_not_present"}]}"#,
    )
    .expect("vex");

    let out = run(&["vex", "check"], &trusted);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "{name}: VEX refused: unsigned: no {name}.sig beside it"
        )),
        "{}",
        stderr(&out)
    );

    // Signed by a key pipeline.toml does not list: written, with a warning, and refused.
    let out = run(&["vex", "sign", &name], &untrusted);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not in supply_chain.public_keys"),
        "{}",
        stderr(&out)
    );
    let out = run(&["vex", "check"], &untrusted);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no configured key verifies it"),
        "{}",
        stderr(&out)
    );

    let out = run(&["vex", "sign", &name], &trusted);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let out = run(&["--json", "vex", "check"], &trusted);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json[0]["statement"], format!("{name}#0"));
    assert_eq!(json[0]["vulnerability"], "CVE-1999-0002");
    assert_eq!(json[0]["justification"], "component_not_present");

    // A document ci would refuse is not signed.
    let bad = vex.join("bad.json");
    std::fs::write(&bad, r#"{"@context": "https://openvex.dev/ns"}"#).expect("bad");
    let out = run(&["vex", "sign", &bad.display().to_string()], &trusted);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bad.json: VEX refused: @context"),
        "{}",
        stderr(&out)
    );
    assert!(!vex.join("bad.json.sig").exists());
}
