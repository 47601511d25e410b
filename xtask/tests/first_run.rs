//! First-hour failures from the real command line: one `error:` line naming the problem and
//! the command that fixes it, no cause chain, and the documented exit code. (Every one of
//! them, a dirty tree and a missing cargo-auditable included, is checked line by line in
//! `xtask/src/first_run.rs`.)

use std::process::{Command, Output};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn xtask(args: &[&str], env: &[(&str, &str)]) -> (Output, tempfile::TempDir) {
    let state = tempfile::tempdir().expect("state");
    let out = Command::new(XTASK)
        .args(args)
        .env("PAKTECH_STATE_DIR", state.path())
        .env_remove("PAKTECH_TARGET")
        .env_remove("PAKTECH_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run xtask");
    (out, state)
}

/// The one error line, after checking nothing else explains it.
fn error_line(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        !stderr.contains("caused by") && !stderr.contains("hint:"),
        "{stderr}"
    );
    errors[0].to_owned()
}

/// (This replaced `cli.rs`'s check of the same dead engine, which expected the old chain.)
#[test]
fn docker_not_running_says_how_to_start_it() {
    let (out, _state) = xtask(
        &["status"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let line = error_line(&out, 1);
    assert!(
        line.starts_with(
            "error: Docker is not running (nothing answers at unix:///nonexistent/docker.sock)"
        ) && line.contains("`sudo systemctl start docker`"),
        "{line}"
    );
}

#[test]
fn no_git_identity_says_how_to_set_one() {
    // The situation is built here, not borrowed from the checkout (whose own `.git/config` may
    // name someone): a home with no git configuration, and a repository of its own with none,
    // which `git config user.name` reads since the command runs inside it.
    let scratch = tempfile::tempdir().expect("scratch");
    let home = scratch.path().join("home");
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(&home).expect("home");
    let init = Command::new("git")
        .args(["init", "--quiet"])
        .arg(&repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git init");
    assert!(init.success());
    let home = home.to_str().expect("utf-8");
    let out = Command::new(XTASK)
        .args(["ci", "--skip-tests"])
        .current_dir(&repo)
        .env("GIT_CEILING_DIRECTORIES", scratch.path())
        .env("PAKTECH_STATE_DIR", scratch.path().join("state"))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GITHUB_ACTOR")
        .env_remove("GITHUB_TRIGGERING_ACTOR")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("run xtask");
    let line = error_line(&out, 2);
    assert!(
        line.starts_with("error: no git identity")
            && line.contains("`git config --global user.name \"Your Name\"`"),
        "{line}"
    );
}

#[test]
fn a_port_in_use_names_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port().to_string();
    let (out, state) = xtask(&["dashboard", "--port", &port], &[]);
    let line = error_line(&out, 1);
    assert!(
        line.starts_with(&format!("error: port {port} on 127.0.0.1 is in use"))
            && line.contains("`cargo xtask dashboard --port "),
        "{line}"
    );
    // Refused before anything was made.
    assert_eq!(std::fs::read_dir(state.path()).expect("state").count(), 0);
}
