//! The signing key as a user configures it: a bad one is refused before anything else is
//! done (exit 2), naming the variable or the file, never printing the key.

use std::process::{Command, Output};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");
const SECRET: &str = "c3VwZXJzZWNyZXQtc2lnbmluZy1rZXktbWF0ZXJpYWw";

fn ci(env: &[(&str, &str)]) -> Output {
    Command::new(XTASK)
        .args(["ci", "--skip-tests", "--json"])
        .env_remove("PAKTECH_SIGNING_KEY")
        .env_remove("PAKTECH_SIGNING_KEY_FILE")
        .envs(env.iter().copied())
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run xtask")
}

#[test]
fn a_bad_signing_key_is_refused_by_name_and_never_printed() {
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cosign.key");
    std::fs::write(&file, &pem).expect("key file");
    let file = file.to_str().expect("utf-8").to_owned();
    for (env, named) in [
        (("PAKTECH_SIGNING_KEY", pem.as_str()), "PAKTECH_SIGNING_KEY"),
        (("PAKTECH_SIGNING_KEY_FILE", file.as_str()), file.as_str()),
        (
            ("PAKTECH_SIGNING_KEY_FILE", "/nonexistent/cosign.key"),
            "/nonexistent/cosign.key",
        ),
    ] {
        let out = ci(&[env]);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{env:?}: {all}");
        assert!(all.contains(named), "{env:?}: {all}");
        assert!(!all.contains(SECRET), "the key was printed: {all}");
    }
}
