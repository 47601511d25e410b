//! What changed since a build: the paths between a commit and the work tree, read with git2
//! from a real repository, and the apps `ci` rebuilds for them.

use std::path::Path;
use std::process::Command;

use adapters::source;
use config::AppConfig;
use model::{GitSha, WorkspaceCrate};
use policy::changes::{self, BuildDecision};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {:?}", out);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn only_the_app_whose_sources_changed_is_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    for (path, text) in [
        ("Cargo.lock", "v1"),
        ("app/src/main.rs", "fn main() {}"),
        ("gateway/src/main.rs", "fn main() {}"),
        ("service/src/lib.rs", ""),
        ("README.md", "hello"),
    ] {
        write(repo, path, text);
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "one"]);
    let built: GitSha = git(repo, &["rev-parse", "HEAD"]).parse().expect("sha");

    write(repo, "gateway/src/main.rs", "fn main() { println!() }");
    write(repo, "README.md", "hello again");
    git(repo, &["commit", "-qam", "two"]);
    // Uncommitted work counts too.
    write(repo, "gateway/src/new.rs", "");
    let head: GitSha = git(repo, &["rev-parse", "HEAD"]).parse().expect("sha");

    let changed = source::changed_since(repo, &built)
        .expect("read")
        .expect("the build's commit is in the history");
    assert_eq!(
        changed,
        ["README.md", "gateway/src/main.rs", "gateway/src/new.rs"]
    );
    let unknown: GitSha = "f".repeat(40).parse().expect("sha");
    assert_eq!(source::changed_since(repo, &unknown).expect("read"), None);

    let crates = [
        WorkspaceCrate {
            name: "paktech-app".into(),
            dir: "app".into(),
            path_dependencies: vec!["paktech-service".into()],
        },
        WorkspaceCrate {
            name: "paktech-gateway".into(),
            dir: "gateway".into(),
            path_dependencies: vec!["paktech-service".into()],
        },
        WorkspaceCrate {
            name: "paktech-service".into(),
            dir: "service".into(),
            path_dependencies: vec![],
        },
    ];
    let app = |name: &str| {
        let mut app = AppConfig::single(name.parse().expect("app"), name.parse().expect("repo"));
        app.paths.clear();
        app
    };
    let decide = |name: &str| {
        changes::decide(
            &changes::sources(&app(name), &crates),
            Some(&built),
            &head,
            Some(&changed),
        )
    };
    assert_eq!(
        decide("paktech-app"),
        BuildDecision::Unchanged {
            since: built.clone()
        }
    );
    assert!(
        matches!(decide("paktech-gateway"), BuildDecision::Build { why } if why.contains("gateway/src/main.rs and 1 more changed")),
    );
    // A change to a crate both link rebuilds both.
    write(repo, "service/src/lib.rs", "pub fn x() {}");
    let changed = source::changed_since(repo, &built)
        .expect("read")
        .expect("known");
    let both = |name: &str| {
        changes::decide(
            &changes::sources(&app(name), &crates),
            Some(&built),
            &head,
            Some(&changed),
        )
    };
    assert!(matches!(both("paktech-app"), BuildDecision::Build { .. }));
    assert!(matches!(
        both("paktech-gateway"),
        BuildDecision::Build { .. }
    ));
}

/// This workspace as `cargo metadata` reads it: the gateway names paktech-app only as a
/// dev-dependency (the real app as an upstream in one test), which puts nothing of it in the
/// gateway's image, so with the committed `pipeline.toml` a change to the app's routes
/// rebuilds the app alone.
#[tokio::test]
async fn a_change_to_the_app_alone_moves_the_app_alone() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root");
    let crates = adapters::tools::workspace_crates(workspace)
        .await
        .expect("cargo metadata");
    let gateway = crates
        .iter()
        .find(|c| c.name == "paktech-gateway")
        .expect("the gateway's package");
    assert!(
        !gateway
            .path_dependencies
            .contains(&"paktech-app".to_owned()),
        "{gateway:?}"
    );
    let config = config::PipelineConfig::load_in(&workspace.join("pipeline.toml"), workspace)
        .expect("the committed pipeline.toml");
    let built: GitSha = "a".repeat(40).parse().expect("sha");
    let head: GitSha = "b".repeat(40).parse().expect("sha");
    let changed = ["app/src/routes.rs".to_owned()];
    let decide = |name: &str| {
        changes::decide(
            &changes::sources(config.app(name).expect("a configured app"), &crates),
            Some(&built),
            &head,
            Some(&changed),
        )
    };
    assert!(matches!(decide("paktech-app"), BuildDecision::Build { .. }));
    assert_eq!(
        decide("paktech-gateway"),
        BuildDecision::Unchanged { since: built }
    );
}
