//! `cargo xtask bench metrics`: the delivery figures over a generated history of 100,000
//! pipeline commits (20 apps, three environments, a rollback every 50th), next to the bare
//! history walk alone, measured in the same run on the same repository: a first read (no
//! cache), a read with the cache and 100 new commits, and a read with nothing new.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use adapters::delivery_log;
use adapters::gitops::{GitOpsRepo, GitOpsSettings};
use anyhow::{Context as _, ensure};
use delivery::{self, Query};
use model::GitSha;

use super::Figure;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Commits in the generated history.
    #[arg(long, default_value_t = 100_000)]
    commits: usize,
    /// Timed rounds of each read (the median is reported).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            commits: 100_000,
            rounds: 5,
        }
    }
}

const ENVS: [&str; 3] = ["dev", "staging", "prod"];
const APPS: usize = 20;
/// The generated history starts here and moves a minute a commit.
const START: i64 = 1_700_000_000;

/// The benchmark, on a blocking thread (`super::blocking`).
pub fn measure(options: &Options) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let bare = dir.path().join("gitops.git");
    git2::Repository::init_bare(&bare)?;
    import(&bare, 0, options.commits)?;
    let repo = GitOpsRepo::open(
        GitOpsSettings {
            url: bare.display().to_string(),
            branch: "main".to_owned(),
            author_name: "bench".to_owned(),
            author_email: "bench@paktech.invalid".to_owned(),
            push_attempts: 1,
            token: None,
        },
        &bare,
    )?;
    let tip = || -> anyhow::Result<GitSha> {
        let id = git2::Repository::open_bare(&bare)?.refname_to_id("refs/heads/main")?;
        Ok(id.to_string().parse()?)
    };
    let first_tip = tip()?;
    let cache = dir.path().join("delivery-metrics.json");
    let rounds = options.rounds.max(1);

    let mut walks = Vec::new();
    let mut cold = Vec::new();
    for _ in 0..rounds {
        walks.push(timed(|| bare_walk(&bare, options.commits))?);
        let _ = std::fs::remove_file(&cache);
        cold.push(timed(|| {
            figures(&repo, &first_tip, &cache, options.commits)
        })?);
    }
    let unchanged = (0..rounds)
        .map(|_| timed(|| figures(&repo, &first_tip, &cache, 0)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // 100 new commits on the cached tip, then a read that walks only them (once: after it, the
    // cache holds them).
    import(&bare, options.commits, 100)?;
    let later = timed(|| figures(&repo, &tip()?, &cache, 100))?;

    let n = options.commits;
    let method = |what: &str| {
        format!("{what}; median of {rounds}; generated first-parent history of {n} commits")
    };
    let (walk, first) = (median(walks), median(cold));
    Ok(vec![
        figure(
            &format!("history walk alone, {n} commits"),
            walk,
            None,
            method("revwalk + each commit's message, nothing decoded (the reference)"),
        ),
        figure(
            &format!("figures, first read of {n} commits"),
            first,
            Some(format!(
                "<= {:.0} ms (1.2x the walk)",
                walk.as_secs_f64() * 1200.0
            )),
            method("no cache: walk, decode every commit, save the cache, follow and count"),
        ),
        Figure::new(
            "metrics",
            "first read / walk alone",
            first.as_secs_f64() / walk.as_secs_f64().max(f64::EPSILON),
            "x",
            Some("<= 1.2"),
            method("the two figures above, same repository and run"),
        ),
        figure(
            "figures, cached, nothing new",
            median(unchanged),
            None,
            method("the cache at the tip: load it, follow and count"),
        ),
        figure(
            "figures, cached, 100 new commits",
            later,
            None,
            format!("the cache plus a walk of the 100 commits since; one read; {n} + 100 commits"),
        ),
    ])
}

fn figure(name: &str, took: Duration, goal: Option<String>, method: String) -> Figure {
    Figure {
        benchmark: "metrics",
        name: name.to_owned(),
        value: took.as_secs_f64() * 1000.0,
        unit: "ms",
        goal,
        method,
    }
}

fn timed(work: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    work()?;
    Ok(started.elapsed())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

/// The reference: every commit of the first-parent line found and its message read.
fn bare_walk(bare: &Path, expected: usize) -> anyhow::Result<()> {
    let repo = git2::Repository::open_bare(bare)?;
    let mut walk = repo.revwalk()?;
    walk.push_ref("refs/heads/main")?;
    walk.simplify_first_parent()?;
    let mut bytes = 0;
    let mut count = 0;
    for id in walk {
        bytes += repo.find_commit(id?)?.message_bytes().len();
        count += 1;
    }
    ensure!(
        count >= expected && bytes > 0,
        "the walk saw {count} commits"
    );
    Ok(())
}

/// The figures as `cargo xtask metrics` counts them, reading through the cache; checks the
/// read walked `walked` commits.
fn figures(repo: &GitOpsRepo, tip: &GitSha, cache: &Path, walked: usize) -> anyhow::Result<()> {
    let ledger = delivery_log::read(repo, tip, cache, "app-0")?;
    ensure!(
        ledger.walked == walked,
        "the read walked {} commits, not {walked}",
        ledger.walked
    );
    let changes = delivery::changes(&ledger.writes, |_| None);
    let report = delivery::report(
        &changes,
        &Query {
            since: START,
            until: START + 60 * i64::try_from(ledger.writes.len() + 1)?,
            env: None,
            app: None,
            order: ENVS.iter().map(|e| (*e).to_owned()).collect(),
            points: 14,
        },
    );
    ensure!(
        report.scopes.iter().any(|s| s.figures.failures > 0),
        "the generated history has rollbacks, so failures"
    );
    Ok(())
}

/// Appends commits `from..from + count` to `refs/heads/main` with `git fast-import` (one pack,
/// as a long-lived repository holds its history).
fn import(bare: &Path, from: usize, count: usize) -> anyhow::Result<()> {
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(bare)
        .env("GIT_DIR", bare)
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot run git fast-import")?;
    let mut stdin = std::io::BufWriter::new(child.stdin.take().context("no stdin")?);
    for i in from..from + count {
        let message = message(i);
        writeln!(stdin, "commit refs/heads/main")?;
        writeln!(
            stdin,
            "committer ci <ci@paktech.invalid> {} +0000",
            START + 60 * i64::try_from(i)?
        )?;
        writeln!(stdin, "data {}\n{message}", message.len())?;
        if i == from && from > 0 {
            writeln!(stdin, "from refs/heads/main^0")?;
        }
        writeln!(stdin)?;
    }
    drop(stdin);
    ensure!(child.wait()?.success(), "git fast-import failed");
    Ok(())
}

/// Commit `i`: app `i % 20` deployed to dev, promoted to staging, then prod, in turn; every
/// 50th a rollback of prod.
fn message(i: usize) -> String {
    let app = format!("app-{}", i % APPS);
    let sha = format!("{:040x}", i / 3);
    let env = ENVS[i % 3];
    let (action, subject) = if i % 50 == 49 {
        ("rollback", format!("revert(prod): roll back {app}"))
    } else if env == "dev" {
        ("deploy", format!("chore(dev): deploy {app} {sha}"))
    } else {
        ("promote", format!("chore({env}): promote {app} {sha}"))
    };
    let env = if action == "rollback" { "prod" } else { env };
    format!(
        "{subject}\n\nPipeline-Action: {action}\nPipeline-Environment: {env}\nApp: {app}\nImage-Sha: {sha}\nImage-Digest: sha256:{sha}{sha}\nRequested-By: bench\n"
    )
}
