//! The failures a new user meets in the first hour, each said in one line: what is wrong and
//! the command that fixes it (Docker not running, no git identity, a dirty work tree, the
//! dashboard's port in use, cargo-auditable missing). `exit::report` prints that line instead
//! of the error chain; the exit code stays the error's own.

use adapters::{docker, tools};
use context::errors::{NoIdentity, PortInUse};

/// The one line for `err`, when it is one of the first-hour failures.
pub fn explain(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<docker::Unreachable>() {
            return Some(format!(
                "Docker is not running (nothing answers at {}): start it with `sudo systemctl start docker` (or open Docker Desktop), or point DOCKER_HOST at a running engine",
                e.host
            ));
        }
        if cause.downcast_ref::<NoIdentity>().is_some() {
            return Some(
                "no git identity (commands record who ran them): set yours with `git config --global user.name \"Your Name\"`, or pass --as NAME"
                    .to_owned(),
            );
        }
        if let Some(e) = cause.downcast_ref::<PortInUse>() {
            return Some(format!(
                "port {} on {} is in use (another dashboard?): stop it, or pick another port with `cargo xtask dashboard --port {}`",
                e.port,
                e.address,
                e.port.wrapping_add(1)
            ));
        }
        match cause.downcast_ref::<flow::Error>() {
            Some(flow::Error::Image(e)) => image(e),
            _ => cause
                .downcast_ref::<flow::image::Error>()
                .and_then(image)
                .or_else(|| cause.downcast_ref::<tools::Error>().and_then(tool)),
        }
    })
}

fn image(err: &flow::image::Error) -> Option<String> {
    match err {
        flow::image::Error::Dirty { .. } => Some(format!(
            "{err}: `git stash` puts them aside (`git stash pop` brings them back)"
        )),
        flow::image::Error::Compile(e) => tool(e),
        _ => None,
    }
}

fn tool(err: &tools::Error) -> Option<String> {
    match err {
        tools::Error::Missing {
            program,
            install,
            tried,
        } => Some(format!(
            "{program} is not installed{} (the image's binary must carry its dependency list, or a scan finds nothing): install it with `{install}`",
            tried
                .as_ref()
                .map(|t| format!(" and {t}"))
                .unwrap_or_default()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: anyhow::Error, problem: &str, fix: &str) {
        let line = explain(&err).expect("a first-hour failure");
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains(problem),
            "{line}\nexpected the problem: {problem}"
        );
        assert!(line.contains(fix), "{line}\nexpected the fix: {fix}");
    }

    #[test]
    fn each_first_hour_failure_is_one_line_with_its_fix() {
        let refused = bollard::errors::Error::SocketNotFoundError("/var/run/docker.sock".into());
        check(
            anyhow::Error::new(docker::Unreachable {
                host: "unix:///var/run/docker.sock".to_owned(),
                source: refused,
            })
            .context("cannot start"),
            "Docker is not running (nothing answers at unix:///var/run/docker.sock)",
            "`sudo systemctl start docker`",
        );
        check(
            anyhow::Error::new(NoIdentity),
            "no git identity",
            "`git config --global user.name \"Your Name\"`",
        );
        check(
            anyhow::Error::new(flow::Error::Image(flow::image::Error::Dirty {
                paths: vec!["README.md".to_owned()],
            })),
            "uncommitted changes (README.md)",
            "`git stash`",
        );
        check(
            anyhow::Error::new(PortInUse {
                address: [127, 0, 0, 1].into(),
                port: 8470,
            }),
            "port 8470 on 127.0.0.1 is in use",
            "`cargo xtask dashboard --port 8471`",
        );
        let missing = tools::Error::Missing {
            program: tools::CARGO_AUDITABLE,
            install: tools::CARGO_AUDITABLE_INSTALL,
            tried: None,
        };
        check(
            anyhow::Error::new(flow::Error::Image(flow::image::Error::Compile(missing)))
                .context("cannot build the image"),
            "cargo-auditable is not installed",
            "`cargo install --locked cargo-auditable --version 0.7.7`",
        );
        // Anything else keeps its whole chain and hint.
        assert!(explain(&anyhow::anyhow!("something else")).is_none());
    }
}
