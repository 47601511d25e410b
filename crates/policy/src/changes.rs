//! Which apps `ci` builds: an app is rebuilt when a path it is made from changed since the
//! build its first environment runs; the others keep the build they have. What an app is made
//! from: its package's directory and those of every workspace crate it links by path (a
//! dev-dependency is none of them: it makes no image), its Dockerfile, `Cargo.lock`, the
//! workspace's manifest and cargo settings, and the paths it lists. (`.` lists the whole
//! workspace: the one-app form `[app]` rebuilds on any change, as it always did.)

use config::AppConfig;
use model::{GitSha, WorkspaceCrate};

/// Files every build reads, whatever the app.
const SHARED: [&str; 3] = ["Cargo.lock", "Cargo.toml", ".cargo/"];

/// Whether `ci` builds an app, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum BuildDecision {
    Build {
        why: String,
    },
    /// Nothing it is made from changed since `since`, the build its first environment runs.
    Unchanged {
        since: GitSha,
    },
}

/// The workspace paths `app` is made from, as prefixes (a directory ends with `/`).
pub fn sources(app: &AppConfig, crates: &[WorkspaceCrate]) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    let mut todo = vec![app.package().to_owned()];
    let mut seen: Vec<String> = Vec::new();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        if let Some(krate) = crates.iter().find(|c| c.name == name) {
            dirs.push(directory(&krate.dir));
            todo.extend(krate.path_dependencies.iter().cloned());
        }
    }
    dirs.extend(SHARED.iter().map(|s| (*s).to_owned()));
    if let Some(dockerfile) = &app.dockerfile {
        dirs.push(dockerfile.clone());
    }
    dirs.extend(app.paths.iter().map(|p| {
        if p == "." || p.is_empty() {
            String::new()
        } else {
            p.clone()
        }
    }));
    dirs.sort();
    dirs.dedup();
    dirs
}

fn directory(dir: &str) -> String {
    if dir.is_empty() {
        String::new()
    } else {
        format!("{}/", dir.trim_end_matches('/'))
    }
}

/// Whether `path` is one of `sources` or under one.
fn touches(sources: &[String], path: &str) -> bool {
    sources
        .iter()
        .any(|s| s.is_empty() || path == s.trim_end_matches('/') || path.starts_with(s.as_str()))
}

/// Decides for one app: `running` is the build its first environment runs (`None`: none
/// yet), `head` the commit checked out, `changed` the paths that differ from `running`'s
/// commit (`None`: that commit is not in this repository, so nothing can be ruled out).
pub fn decide(
    sources: &[String],
    running: Option<&GitSha>,
    head: &GitSha,
    changed: Option<&[String]>,
) -> BuildDecision {
    let Some(running) = running else {
        return BuildDecision::Build {
            why: "its first environment runs no build of it yet".to_owned(),
        };
    };
    if running == head {
        return BuildDecision::Build {
            why: format!(
                "{} is the build it runs: built again, unchanged",
                head.short()
            ),
        };
    }
    let Some(changed) = changed else {
        return BuildDecision::Build {
            why: format!(
                "the build it runs, {}, is not in this repository's history",
                running.short()
            ),
        };
    };
    let hits: Vec<&String> = changed.iter().filter(|p| touches(sources, p)).collect();
    match hits.as_slice() {
        [] => BuildDecision::Unchanged {
            since: running.clone(),
        },
        [one] => BuildDecision::Build {
            why: format!("{one} changed since {}", running.short()),
        },
        [first, rest @ ..] => BuildDecision::Build {
            why: format!(
                "{first} and {} more changed since {}",
                rest.len(),
                running.short()
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(name: &str, dir: &str, deps: &[&str]) -> WorkspaceCrate {
        WorkspaceCrate {
            name: name.into(),
            dir: dir.into(),
            path_dependencies: deps.iter().map(|d| (*d).into()).collect(),
        }
    }

    fn app(name: &str, paths: &[&str]) -> AppConfig {
        let mut app = AppConfig::single(name.parse().expect("app"), name.parse().expect("repo"));
        app.paths = paths.iter().map(|p| (*p).into()).collect();
        app
    }

    fn sha(c: char) -> GitSha {
        c.to_string().repeat(40).parse().expect("sha")
    }

    #[test]
    fn an_app_is_made_from_its_crate_what_it_links_and_the_lock_file() {
        let crates = [
            krate("paktech-app", "app", &["paktech-service", "workspace-hack"]),
            krate("paktech-gateway", "gateway", &["paktech-service"]),
            krate("paktech-service", "service", &["workspace-hack"]),
            krate("workspace-hack", "workspace-hack", &[]),
            krate("pipeline", "pipeline", &[]),
        ];
        let sources = sources(&app("paktech-gateway", &["docs/gateway.md"]), &crates);
        assert_eq!(
            sources,
            [
                ".cargo/",
                "Cargo.lock",
                "Cargo.toml",
                "docs/gateway.md",
                "gateway/",
                "service/",
                "workspace-hack/"
            ]
        );
        let check = |path: &str, expected: bool| {
            assert_eq!(touches(&sources, path), expected, "{path}");
        };
        check("gateway/src/main.rs", true);
        check("service/src/lib.rs", true);
        check("Cargo.lock", true);
        check("app/src/routes.rs", false);
        check("pipeline/src/lib.rs", false);
        check("gatewayx/src/main.rs", false);
        check("README.md", false);
    }

    #[test]
    fn only_a_changed_app_is_built_and_each_decision_says_why() {
        let sources = vec!["gateway/".to_owned(), "Cargo.lock".to_owned()];
        let (head, old) = (sha('b'), sha('a'));
        let changed = |paths: &[&str]| paths.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            decide(
                &sources,
                Some(&old),
                &head,
                Some(&changed(&["app/src/x.rs", "README.md"]))
            ),
            BuildDecision::Unchanged { since: old.clone() }
        );
        for (running, paths, why) in [
            (None, Some(changed(&[])), "runs no build of it yet"),
            (Some(&head), Some(changed(&[])), "is the build it runs"),
            (Some(&old), None, "not in this repository's history"),
            (
                Some(&old),
                Some(changed(&["Cargo.lock"])),
                "Cargo.lock changed since aaaaaaa",
            ),
            (
                Some(&old),
                Some(changed(&["gateway/a.rs", "gateway/b.rs"])),
                "gateway/a.rs and 1 more changed",
            ),
        ] {
            match decide(&sources, running, &head, paths.as_deref()) {
                BuildDecision::Build { why: got } => assert!(got.contains(why), "{got}"),
                other => panic!("expected a build ({why}), got {other:?}"),
            }
        }
        // The one-app form lists the whole workspace: any change rebuilds it.
        let everything = sources_of_everything();
        assert!(touches(&everything, "README.md"));
    }

    fn sources_of_everything() -> Vec<String> {
        sources(&app("paktech-app", &["."]), &[])
    }
}
