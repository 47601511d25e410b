//! The GitOps benchmark: edit + commit + push latency on repositories with long histories,
//! and many writers racing on one bare repository.

use std::path::Path;
use std::time::Instant;

use adapters::gitops::{Change, GitOpsRepo, GitOpsSettings, Written, seed_bare_repository};
use anyhow::{Context, ensure};
use model::audit::CommitMessage;
use model::values::Scalar;

use super::Figure;
use context::workspace;

const DEV: &str = "apps/paktech-app/dev/values.yaml";

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// History lengths to measure on (commits already in the repository).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    histories: Vec<usize>,
    /// Timed writes per history length.
    #[arg(long, default_value_t = 40)]
    writes: usize,
    /// Concurrent writers racing on one repository.
    #[arg(long, default_value_t = 20)]
    writers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            histories: vec![1_000, 10_000],
            writes: 40,
            writers: 20,
        }
    }
}

fn settings(remote: &Path) -> GitOpsSettings {
    GitOpsSettings {
        url: remote.display().to_string(),
        branch: "main".to_owned(),
        author_name: "bench".to_owned(),
        author_email: "bench@paktech.invalid".to_owned(),
        push_attempts: 200,
        token: None,
    }
}

fn set_tag(key: &str, value: String) -> Change {
    Change::one(
        DEV,
        vec![(key.to_owned(), Scalar::Str(value.clone()))],
        None,
        CommitMessage::new(format!("chore(dev): bench {key} = {value}")),
    )
}

/// The benchmark, on a blocking thread (`super::blocking`).
pub fn measure(options: &Options) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for &history in &options.histories {
        let dir = tempfile::tempdir()?;
        let remote = dir.path().join("gitops.git");
        seed(&remote)?;
        // Each commit changes one file outside the app's folder.
        super::grow_history(&remote, history, |i| super::SeedCommit {
            path: "history/counter.txt".to_owned(),
            contents: format!("{i}\n"),
            message: format!("history {i}"),
        })?;
        let repo = GitOpsRepo::open(settings(&remote), &dir.path().join("mirror.git"))?;
        repo.fetch()?;
        let mut samples = Vec::with_capacity(options.writes);
        for i in 0..options.writes {
            let started = Instant::now();
            let written = repo.write(&set_tag("image.tag", format!("{:040x}", i + 1)))?;
            samples.push(started.elapsed());
            ensure!(
                matches!(written, Written::Committed { .. }),
                "write {i} made no commit"
            );
        }
        samples.sort();
        let pct = |p: f64| {
            samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
        };
        let how = format!(
            "{} writes (fetch, edit, commit, compare-and-swap push) to a local bare repository with {history} commits",
            options.writes
        );
        figures.push(figure(
            &format!("write p50, {history} commits"),
            pct(0.5),
            "ms",
            (history == 10_000).then_some("<= 50"),
            how.clone(),
        ));
        figures.push(figure(
            &format!("write p99, {history} commits"),
            pct(0.99),
            "ms",
            None,
            how,
        ));
    }
    figures.extend(race(options.writers)?);
    Ok(figures)
}

/// `writers` threads, each with its own mirror, each setting its own key at once.
fn race(writers: usize) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let remote = dir.path().join("gitops.git");
    seed(&remote)?;
    let setup = GitOpsRepo::open(settings(&remote), &dir.path().join("setup.git"))?;
    let tip = setup.fetch()?;
    let text = setup.read(&tip, DEV)?.context("dev values")?;
    let keys: String = (0..writers).map(|i| format!("  w{i:03}: \"\"\n")).collect();
    commit_file(&remote, DEV, &format!("{text}writers:\n{keys}"))?;

    let started = Instant::now();
    let handles: Vec<_> = (0..writers)
        .map(|i| {
            let remote = remote.clone();
            let mirror = dir.path().join(format!("mirror-{i}.git"));
            std::thread::spawn(move || -> anyhow::Result<u32> {
                let repo = GitOpsRepo::open(settings(&remote), &mirror)?;
                match repo.write(&set_tag(&format!("writers.w{i:03}"), format!("writer-{i}")))? {
                    Written::Committed { attempts, .. } => Ok(attempts),
                    Written::Unchanged { .. } => anyhow::bail!("writer {i} made no commit"),
                }
            })
        })
        .collect();
    let mut attempts = Vec::new();
    for handle in handles {
        attempts.push(
            handle
                .join()
                .map_err(|_| anyhow::anyhow!("a writer panicked"))??,
        );
    }
    let elapsed = started.elapsed();

    // Verify: every write landed exactly once, in a linear history.
    let repo = git2::Repository::open_bare(&remote)?;
    let head = repo.refname_to_id("refs/heads/main")?;
    let commit = repo.find_commit(head)?;
    let blob = commit
        .tree()?
        .get_path(Path::new(DEV))?
        .to_object(&repo)?
        .peel_to_blob()?;
    let final_text = String::from_utf8_lossy(blob.content()).into_owned();
    let landed = (0..writers)
        .filter(|i| final_text.contains(&format!("w{i:03}: \"writer-{i}\"")))
        .count();
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    let mut merges = 0;
    let mut count = 0;
    for id in walk {
        count += 1;
        if repo.find_commit(id?)?.parent_count() > 1 {
            merges += 1;
        }
    }
    ensure!(
        landed == writers,
        "only {landed} of {writers} writes landed"
    );
    ensure!(
        merges == 0 && count == writers + 2,
        "history is not linear: {count} commits, {merges} merges"
    );

    let how = format!(
        "{writers} threads, one mirror each, writing distinct keys of one file at once; all {landed} landed, {count} commits, no merges"
    );
    Ok(vec![
        figure(
            &format!("{writers} racing writers: throughput"),
            writers as f64 / elapsed.as_secs_f64(),
            "writes/s",
            None,
            how.clone(),
        ),
        figure(
            &format!("{writers} racing writers: mean attempts"),
            attempts.iter().sum::<u32>() as f64 / writers as f64,
            "pushes",
            None,
            how,
        ),
    ])
}

fn commit_file(remote: &Path, path: &str, contents: &str) -> anyhow::Result<()> {
    let repo = git2::Repository::open_bare(remote)?;
    let signature = git2::Signature::now("bench", "bench@paktech.invalid")?;
    let parent = repo.find_commit(repo.refname_to_id("refs/heads/main")?)?;
    let blob = repo.blob(contents.as_bytes())?;
    let tree_id = git2::build::TreeUpdateBuilder::new()
        .upsert(path, blob, git2::FileMode::Blob)
        .create_updated(&repo, &parent.tree()?)?;
    let tree = repo.find_tree(tree_id)?;
    repo.commit(
        Some("refs/heads/main"),
        &signature,
        &signature,
        "bench setup",
        &tree,
        &[&parent],
    )?;
    Ok(())
}

fn figure(
    name: &str,
    value: f64,
    unit: &'static str,
    goal: Option<&str>,
    method: String,
) -> Figure {
    Figure::new("gitops", name, value, unit, goal, method)
}

/// A scratch GitOps remote seeded from the project's gitops/.
fn seed(remote: &Path) -> anyhow::Result<()> {
    seed_bare_repository(
        remote,
        &workspace::root().join("gitops"),
        "main",
        ("bench", "bench@paktech.invalid"),
    )?;
    Ok(())
}
