//! `cargo xtask bench dashboard`: the page's server time with 10,000 history entries next to a
//! reference with none, measured in the same run, what one poll costs when a branch moved, and
//! how long a GitOps write takes to reach an open page as a server-sent event.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::{Duration, Instant};

use adapters::attachments::{Attachments, LocalAttachments};
use adapters::gitops::{Change, GitOpsRepo, GitOpsSettings, seed_bare_repository};
use adapters::registry::Registry;
use adapters::target::{LocalTarget, Target};
use anyhow::Context;
use config::PipelineConfig;
use flow::{Clock, Pipeline};
use model::audit::{CommitMessage, keys};
use model::values::Scalar;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Figure;
use context::workspace;
use dashboard::{Dashboard, gather};

/// Timed page requests per repository.
const REQUESTS: usize = 200;
/// Timed writes whose event is awaited.
const WRITES: usize = 10;

pub async fn run() -> anyhow::Result<Vec<Figure>> {
    let docker = adapters::docker::connect().await?;
    let mut figures = Vec::new();
    for history in [0, 10_000] {
        let dir = tempfile::tempdir()?;
        let pipeline = scratch(
            dir.path(),
            history,
            Target::Local(LocalTarget::new(docker.clone(), "pt-bench-dashboard")),
            Registry::Engine(docker.clone()),
        )?;
        // What a poll costs when a branch moved: both branch tips, the snapshot, the
        // timeline, status and the plans. The first read also fills the mirror.
        let mut reads_took = Vec::new();
        for _ in 0..2 {
            let started = Instant::now();
            let tips = gather::tips(&pipeline).await?;
            let recorded = flow::status::recorded(&pipeline, &[], None).await?;
            let mut reads = gather::read(&pipeline, tips, recorded).await?;
            gather::gather(&pipeline, &mut reads).await?;
            reads_took.push(started.elapsed());
        }
        let read = reads_took[1];

        // One app's lanes are `lane-<env>`; several apps' matrix cells `lane-<app>-<env>`.
        let prod_lane = match pipeline.config.apps.as_slice() {
            [_] => "id=\"lane-prod\"".to_owned(),
            apps => format!("id=\"lane-{}-prod\"", apps[0].name),
        };
        let dashboard = Dashboard::start(pipeline, TcpListener::bind("127.0.0.1:0")?).await?;
        let mut samples = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let started = Instant::now();
            let page = get(dashboard.address, "/").await?;
            samples.push(started.elapsed());
            anyhow::ensure!(page.contains(&prod_lane), "the page has no lanes");
        }
        let label = if history == 0 {
            "reference: no history".to_owned()
        } else {
            format!("{history} history entries")
        };
        let how = format!(
            "{REQUESTS} sequential GET / over loopback HTTP/1.0 (connect to last byte), answered from the board the poller keeps; GitOps repository with {history} pipeline commits beyond the seed"
        );
        figures.push(figure(
            &format!("page p50, {label}"),
            percentile(&mut samples, 0.5),
            (history > 0).then_some("< 100"),
            how.clone(),
        ));
        figures.push(figure(
            &format!("page p99, {label}"),
            percentile(&mut samples, 0.99),
            None,
            how,
        ));
        figures.push(figure(
            &format!("poll after a commit, {label}"),
            ms(read),
            None,
            format!(
                "one full read after the mirror is filled (the first, which fills it, took {:.0} ms): branch tips, snapshot (every values history), 50 timeline events, status with probes, a plan per lane",
                ms(reads_took[0])
            ),
        ));
        if history > 0 {
            figures.extend(idle_cpu(&dashboard).await?);
            figures.extend(latency(&dashboard, dir.path()).await?);
        }
        dashboard.handle.stop(false).await;
    }
    Ok(figures)
}

/// Seconds the idle board is watched for its CPU.
const IDLE_SECONDS: u64 = 20;

/// The CPU this process (the dashboard) uses over [`IDLE_SECONDS`] with nobody looking, once
/// the last page's interest has passed, next to the same with one event stream open and
/// nothing changing (the poller at full rate: tips and replicas every round), in percent of
/// one core.
async fn idle_cpu(dashboard: &Dashboard) -> anyhow::Result<Vec<Figure>> {
    let measure = || async {
        let (before, started) = (cpu_seconds()?, Instant::now());
        tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
        anyhow::Ok(100.0 * (cpu_seconds()? - before) / started.elapsed().as_secs_f64())
    };
    let mut stream = tokio::net::TcpStream::connect(dashboard.address).await?;
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    let watched = measure().await?;
    drop(stream);
    tokio::time::sleep(dashboard::events::INTEREST + Duration::from_secs(1)).await;
    let idle = measure().await?;
    let how = |what: &str| {
        format!(
            "user + system CPU of this process (/proc/self/stat, USER_HZ 100) over {IDLE_SECONDS} s {what}, 10,000 history entries"
        )
    };
    Ok(vec![
        figure_in(
            "idle CPU, no client",
            idle,
            "% of a core",
            Some("< 1"),
            how(&format!(
                "with no page open and no stream, {} s after the last",
                dashboard::events::INTEREST.as_secs()
            )),
        ),
        figure_in(
            "CPU, one stream open, nothing changing",
            watched,
            "% of a core",
            None,
            how(&format!(
                "with one /events stream open (polling every {} ms), no write",
                dashboard::events::POLL.as_millis()
            )),
        ),
    ])
}

/// This process's user and system CPU so far, in seconds.
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("/proc/self/stat has no command name")?
        .1
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i - 3)
            .context("/proc/self/stat is short")?
            .parse::<f64>()?)
    };
    Ok((ticks(14)? + ticks(15)?) / 100.0)
}

/// From a GitOps write landing to the event that shows it reaching an open `/events` stream.
async fn latency(dashboard: &Dashboard, dir: &Path) -> anyhow::Result<Vec<Figure>> {
    let writer = GitOpsRepo::open(settings(&dir.join("gitops.git")), &dir.join("writer.git"))?;
    let mut stream = tokio::net::TcpStream::connect(dashboard.address).await?;
    stream
        .write_all(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    let mut seen = String::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut samples = Vec::with_capacity(WRITES);
    let mut replanned = Vec::with_capacity(WRITES);
    for i in 0..WRITES {
        let sha = format!("{:040x}", 0xdead_0000_u64 + i as u64);
        let change = Change::one(
            "apps/paktech-app/dev/values.yaml",
            vec![("image.tag".to_owned(), Scalar::str(&sha))],
            None,
            CommitMessage::new("chore(dev): bench the dashboard")
                .trailer(keys::ACTION, "deploy")
                .trailer(keys::IMAGE_SHA, &sha),
        );
        let written = {
            let writer = writer.clone();
            tokio::task::spawn_blocking(move || writer.write(&change)).await??
        };
        drop(written);
        let landed = Instant::now();
        let deadline = landed + Duration::from_secs(30);
        seen.clear();
        while !seen.contains(&format!("data-sha=\"{sha}\"")) {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, stream.read(&mut buf))
                .await
                .context("no event within 30 s of the write")??;
            anyhow::ensure!(n > 0, "the event stream closed");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        samples.push(landed.elapsed());
        // Then the re-planned board (the moves made again from the new snapshot); the next
        // write waits for it, so each write meets an idle poller.
        while !settled(&seen, &sha) {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = tokio::time::timeout(left, stream.read(&mut buf))
                .await
                .context("no re-planned event within 30 s of the write")??;
            anyhow::ensure!(n > 0, "the event stream closed");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        replanned.push(landed.elapsed());
    }
    let how = format!(
        "{WRITES} writes of dev's image.tag to the GitOps remote (10,000 history entries); time from the write returning to an open /events stream receiving the fragment with the new build; polling every {} ms",
        dashboard::events::POLL.as_millis()
    );
    Ok(vec![
        figure(
            "write to event p50",
            percentile(&mut samples, 0.5),
            Some("< 1000"),
            how.clone(),
        ),
        figure(
            "write to event max",
            percentile(&mut samples, 1.0),
            None,
            how.clone(),
        ),
        figure(
            "write to re-planned event p50",
            percentile(&mut replanned, 0.5),
            None,
            format!("{how}; until the event whose moves were planned from the new snapshot"),
        ),
    ])
}

/// Whether the last event in `seen` shows `sha` with moves planned after it landed.
fn settled(seen: &str, sha: &str) -> bool {
    seen.rsplit("event: board").next().is_some_and(|last| {
        // The scans heading comes last: the event has fully arrived.
        last.contains(&format!("data-sha=\"{sha}\""))
            && last.contains("id=\"scans\"")
            && !last.contains("re-planning")
    })
}

/// A pipeline on a scratch GitOps remote seeded from `gitops/` and grown by `history` deploy
/// and promote commits spread over the environments.
fn scratch(
    dir: &Path,
    history: usize,
    target: Target,
    registry: Registry,
) -> anyhow::Result<Pipeline> {
    let remote = dir.join("gitops.git");
    seed_bare_repository(
        &remote,
        &workspace::root().join("gitops"),
        "main",
        ("bench", "bench@paktech.invalid"),
    )?;
    let config = PipelineConfig::load(&workspace::root().join("pipeline.toml"))?;
    grow(&remote, &config, history)?;
    Ok(Pipeline {
        workspace: workspace::root(),
        gitops: GitOpsRepo::open(settings(&remote), &dir.join("mirror.git"))?,
        target,
        images: None,
        slack: None,
        registry,
        attachments: Attachments::Local(LocalAttachments::new(dir.join("attachments"))),
        clock: Clock::System,
        config,
        signing_key: None,
    })
}

fn settings(remote: &Path) -> GitOpsSettings {
    GitOpsSettings {
        url: remote.display().to_string(),
        branch: "main".to_owned(),
        author_name: "bench".to_owned(),
        author_email: "bench@paktech.invalid".to_owned(),
        push_attempts: 60,
        token: None,
    }
}

/// `count` commits straight into the bare repository, each naming a new build in one
/// environment's values file with the trailers the pipeline writes.
fn grow(remote: &Path, config: &PipelineConfig, count: usize) -> anyhow::Result<()> {
    let repo = git2::Repository::open_bare(remote)?;
    let parent = repo.find_commit(repo.refname_to_id("refs/heads/main")?)?;
    let envs: Vec<_> = config.environments.iter().map(|e| e.name.clone()).collect();
    let mut texts = Vec::new();
    for env in &envs {
        let path = config.values_path(&config.apps[0].name, env);
        let entry = parent.tree()?.get_path(Path::new(&path))?;
        let blob = repo.find_blob(entry.id())?;
        texts.push((path, String::from_utf8_lossy(blob.content()).into_owned()));
    }
    crate::grow_history(remote, count, |i| {
        let (path, text) = &texts[i % texts.len()];
        let env = &envs[i % envs.len()];
        let sha = format!("{:040x}", i + 1);
        let digest = format!("sha256:{:064x}", i + 1);
        let action = if i % envs.len() == 0 {
            "deploy"
        } else {
            "promote"
        };
        crate::SeedCommit {
            path: path.clone(),
            contents: text
                .replacen("tag: \"\"", &format!("tag: \"{sha}\""), 1)
                .replacen("digest: \"\"", &format!("digest: \"{digest}\""), 1),
            message: CommitMessage::new(format!("chore({env}): {action} {sha}"))
                .trailer(keys::ACTION, action)
                .trailer(keys::ENVIRONMENT, env.as_str())
                .trailer(keys::IMAGE_SHA, &sha)
                .trailer(keys::IMAGE_DIGEST, &digest)
                .trailer(
                    keys::SCAN,
                    "critical=0 high=0 medium=1 low=2 negligible=0 unknown=0",
                )
                .trailer(keys::REQUESTED_BY, "bench")
                .to_string(),
        }
    })
}

async fn get(address: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut socket = tokio::net::TcpStream::connect(address).await?;
    socket
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await?;
    Ok(answer)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    samples
        .get(((samples.len() as f64 - 1.0) * p).round() as usize)
        .map(|d| ms(*d))
        .unwrap_or_default()
}

fn figure(name: &str, value: f64, goal: Option<&str>, method: String) -> Figure {
    figure_in(name, value, "ms", goal, method)
}

fn figure_in(
    name: &str,
    value: f64,
    unit: &'static str,
    goal: Option<&str>,
    method: String,
) -> Figure {
    Figure::new("dashboard", name, value, unit, goal, method)
}
