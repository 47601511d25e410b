//! `cargo xtask bench [app|gitops|flows|scan|analysis|dashboard|release|metrics|suite]`: benchmarks
//! that print figures with how they were measured.
//! Benchmarks measure; they never pass or fail on a figure.

mod analysis;
mod app;
mod board;
mod flows;
mod gitops;
mod metrics;
mod release;
pub mod scale;
pub mod scan;
mod suite;
mod wrk;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which benchmark to run (all when omitted).
    #[command(subcommand)]
    which: Option<Which>,
}

#[derive(Debug, clap::Subcommand)]
enum Which {
    /// The web service: throughput, latency, memory, cold start, image size.
    App(app::Options),
    /// GitOps writes: latency against history length, racing writers.
    Gitops(gitops::Options),
    /// Whole flows on the local target: ci and promote prod, per step.
    Flows,
    /// The metric analysis' error rates, by simulation: false rollbacks and misses.
    Analysis(analysis::Options),
    /// Parsing a large grype report: time and peak memory.
    Scan(scan::Options),
    /// The dashboard: page time with 10,000 history entries, write-to-event latency.
    Dashboard,
    /// A release of 20 apps: plan time, its commit's write time next to a one-app commit's.
    Release(release::Options),
    /// Delivery metrics over 100,000 history commits: first read, cached reads, next to the walk alone.
    Metrics(metrics::Options),
    /// The last run of the test suite: its wall time next to the sum of its tests' times, and
    /// the slowest tests (read from nextest's report; runs nothing).
    Suite(suite::Options),
}

/// One measured figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    pub benchmark: &'static str,
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub goal: Option<String>,
    pub method: String,
}

impl Figure {
    /// A figure of `benchmark`; `goal` and `method` say what it should be and how it was taken.
    pub fn new(
        benchmark: &'static str,
        name: &str,
        value: f64,
        unit: &'static str,
        goal: Option<&str>,
        method: String,
    ) -> Self {
        Self {
            benchmark,
            name: name.to_owned(),
            value,
            unit,
            goal: goal.map(str::to_owned),
            method,
        }
    }
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        // The suite's figures are read from the last run's report: nothing to measure here.
        if let Some(Which::Suite(options)) = &self.which {
            let figures = suite::read(&target_dir(), options)?;
            return show(&figures, json);
        }
        // Figures come from optimised code: a debug build re-runs itself in release (not
        // `--quiet`: the first release build takes minutes, and cargo's lines show progress).
        if cfg!(debug_assertions) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let args: Vec<String> = std::env::args().skip(1).collect();
            let status = tokio::process::Command::new(cargo)
                .args(["run", "--release", "--package", "xtask", "--"])
                .args(&args)
                .current_dir(context::workspace::root())
                .status()
                .await?;
            anyhow::ensure!(status.success(), "the release benchmark run failed");
            return Ok(());
        }
        let figures = match self.which {
            Some(Which::App(options)) => app::run(&options).await?,
            Some(Which::Gitops(options)) => blocking(&options, gitops::measure).await?,
            Some(Which::Flows) => flows::run().await?,
            Some(Which::Scan(options)) => scan::run(&options).await?,
            Some(Which::Analysis(options)) => analysis::run(&options).await?,
            Some(Which::Dashboard) => crate::board::run().await?,
            Some(Which::Release(options)) => blocking(&options, release::measure).await?,
            Some(Which::Metrics(options)) => blocking(&options, metrics::measure).await?,
            Some(Which::Suite(options)) => suite::read(&target_dir(), &options)?,
            None => {
                let mut all = app::run(&app::Options::default()).await?;
                all.extend(blocking(&gitops::Options::default(), gitops::measure).await?);
                all.extend(scan::run(&scan::Options::default()).await?);
                all.extend(analysis::run(&analysis::Options::default()).await?);
                all.extend(flows::run().await?);
                all.extend(crate::board::run().await?);
                all.extend(blocking(&release::Options::default(), release::measure).await?);
                all.extend(blocking(&metrics::Options::default(), metrics::measure).await?);
                // The last suite run, when there was one.
                all.extend(
                    suite::read(&target_dir(), &suite::Options::default()).unwrap_or_default(),
                );
                all
            }
        };
        show(&figures, json)
    }
}

fn show(figures: &[Figure], json: bool) -> anyhow::Result<()> {
    if json {
        output::print_json(&figures)?;
    } else {
        print_table(figures);
    }
    Ok(())
}

/// The workspace's target folder (`CARGO_TARGET_DIR`, else `target/`).
fn target_dir() -> std::path::PathBuf {
    adapters::tools::target_dir(&context::workspace::root())
}

/// Runs a benchmark that blocks (git2 over generated histories) on one of tokio's blocking
/// threads.
async fn blocking<O: Clone + Send + 'static>(
    options: &O,
    measure: fn(&O) -> anyhow::Result<Vec<Figure>>,
) -> anyhow::Result<Vec<Figure>> {
    let options = options.clone();
    tokio::task::spawn_blocking(move || measure(&options)).await?
}

fn print_table(figures: &[Figure]) {
    println!(
        "{:<8} {:<34} {:>14} {:<8} {:<14} how",
        "bench", "figure", "value", "unit", "goal"
    );
    for f in figures {
        println!(
            "{:<8} {:<34} {:>14.2} {:<8} {:<14} {}",
            f.benchmark,
            f.name,
            f.value,
            f.unit,
            f.goal.as_deref().unwrap_or("-"),
            f.method
        );
    }
}

/// Appends `count` commits to the main branch of the bare repository at `remote`, written
/// straight into it (no fetch or push per commit), so a benchmark can stand on a long history.
/// Commit `i` sets the file `change(i).path` to `change(i).contents`.
pub fn grow_history(
    remote: &std::path::Path,
    count: usize,
    mut change: impl FnMut(usize) -> SeedCommit,
) -> anyhow::Result<()> {
    let repo = git2::Repository::open_bare(remote)?;
    let signature = git2::Signature::new(
        "bench",
        "bench@paktech.invalid",
        &git2::Time::new(1_700_000_000, 0),
    )?;
    let mut parent = repo.find_commit(repo.refname_to_id("refs/heads/main")?)?;
    for i in 0..count {
        let SeedCommit {
            path,
            contents,
            message,
        } = change(i);
        let blob = repo.blob(contents.as_bytes())?;
        let tree_id = git2::build::TreeUpdateBuilder::new()
            .upsert(&path, blob, git2::FileMode::Blob)
            .create_updated(&repo, &parent.tree()?)?;
        let tree = repo.find_tree(tree_id)?;
        let id = repo.commit(None, &signature, &signature, &message, &tree, &[&parent])?;
        parent = repo.find_commit(id)?;
    }
    repo.reference("refs/heads/main", parent.id(), true, "bench history")?;
    Ok(())
}

/// One commit [`grow_history`] writes.
#[derive(Debug)]
pub struct SeedCommit {
    pub path: String,
    pub contents: String,
    pub message: String,
}
