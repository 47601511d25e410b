//! The scale test: 20 apps over three environments are consistent, their release of prod is
//! planned over one snapshot, and its stage writes one commit of 20 files whose trailers name
//! every app's build. Behaviour only; `cargo xtask bench release` measures the times.

use std::path::Path;

use adapters::gitops::Written;
use policy::approval::GateStatus;
use policy::freeze::WindowGate;

use super::{Options, Scale, build, remote, stage_change, toml};

const APPS: usize = 20;

/// The paths a commit changed against its first parent.
fn changed(remote: &Path, revision: &str) -> (Vec<String>, usize) {
    let repo = git2::Repository::open_bare(remote).expect("remote");
    let commit = repo
        .find_commit(git2::Oid::from_str(revision).expect("oid"))
        .expect("commit");
    let parent = commit.parent(0).expect("parent");
    let diff = repo
        .diff_tree_to_tree(
            Some(&parent.tree().expect("tree")),
            Some(&commit.tree().expect("tree")),
            None,
        )
        .expect("diff");
    let paths = diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect();
    (paths, commit.parent_count())
}

#[test]
fn a_release_of_twenty_apps_is_planned_and_written_as_one_commit_of_twenty_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scale = Scale::generate(dir.path(), Options { apps: APPS }).expect("generate");
    assert_eq!(scale.config.apps.len(), APPS);
    assert_eq!(toml(APPS).matches("[[apps]]").count(), APPS);
    assert_eq!(
        config::consistency::check(&scale.config, &scale.gitops),
        Vec::<String>::new(),
        "lint finds the generated tree consistent"
    );

    let snapshot = scale.snapshot().expect("snapshot");
    let staging = "staging".parse().expect("env");
    for (i, app) in scale.config.apps.iter().enumerate() {
        let history = snapshot.history(&app.name, &staging);
        assert!(
            history
                .iter()
                .any(|c| c.build_of(app.name.as_str()) == Some(build(i, true).0.as_str())),
            "{}: staging's history records build B",
            app.name
        );
    }
    let now = "2026-12-04T12:00:00Z".parse().expect("time");
    let plan = scale
        .plan_release(&snapshot, now)
        .expect("the release is planned");
    assert_eq!(plan.apps.len(), APPS, "every app differs from prod");
    assert_eq!(plan.stages.len(), 1, "prod only: staging runs every build");
    let stage = &plan.stages[0];
    assert_eq!(stage.env.as_str(), "prod");
    assert_eq!(stage.apps.len(), APPS);
    assert_eq!(stage.window, WindowGate::Open);
    assert!(
        matches!(stage.approval.status, GateStatus::Waiting { need: 1, .. }),
        "prod asks one approval of the release: {:?}",
        stage.approval.status
    );
    assert_eq!(
        scale
            .config
            .apps
            .iter()
            .map(|a| &a.name)
            .collect::<Vec<_>>(),
        plan.apps.iter().map(|m| &m.app).collect::<Vec<_>>(),
        "in dependency order"
    );

    let before = scale.repo.fetch().expect("tip");
    let written = scale
        .repo
        .write(&stage_change(&plan, stage))
        .expect("the stage's write");
    let Written::Committed { revision, .. } = written else {
        panic!("no commit: {written:?}");
    };
    let records = scale.repo.log(&revision, None, 2).expect("log");
    assert_eq!(
        records[1].revision, before,
        "exactly one new commit on main"
    );
    let (mut paths, parents) = changed(&remote(dir.path()), revision.as_str());
    paths.sort();
    let mut wanted: Vec<String> = scale
        .config
        .apps
        .iter()
        .map(|a| scale.config.values_path(&a.name, &stage.env))
        .collect();
    wanted.sort();
    assert_eq!(parents, 1);
    assert_eq!(paths, wanted, "20 files, prod's values of every app");
    for (i, app) in scale.config.apps.iter().enumerate() {
        let (sha, digest) = build(i, true);
        assert_eq!(records[0].build_of(app.name.as_str()), Some(sha.as_str()));
        assert_eq!(
            records[0].digest_of(app.name.as_str()),
            Some(digest.as_str())
        );
    }

    // Planned again over the new snapshot: prod runs staging's builds.
    let again = scale.snapshot().expect("snapshot");
    let refused = scale.plan_release(&again, now).expect_err("up to date");
    assert!(refused.to_string().contains("prod"), "{refused}");
}
