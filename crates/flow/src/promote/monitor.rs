//! Watching an environment after its change: every round probes every replica and asks
//! `policy::monitor` what is wrong; failing rounds in a row past the threshold call for a
//! rollback. Where the environment has an analysis, each round also judges what the replicas
//! served since the window began (a failing analysis is a failing round), and the window's
//! end gives the final verdict (`policy::analysis::decide`). A probe or a metrics read that
//! errors makes a round that could not be judged: it fails (retried next round), and a streak
//! of them rolls back without blocking the build. Each round is reported, so a watcher (or a
//! test) sees it happen.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::analysis::{Analysis, Measure};
use crate::{Pipeline, Result, sync};
use model::Probe;
use model::report::{Outcome, Reporter};
use policy::analysis::{Decision, Inconclusive, Look, Metric, Summary, Verdict, Window, decide};
use policy::monitor::{Round, Seen, Streak, problems};
use policy::plan::{AppStage, MonitorStep, Stage};

/// How often the window's final read is tried (within one interval) before it fails.
pub const FINAL_READS: u32 = 3;

/// How a watch ended.
#[derive(Debug, Clone, Default)]
pub(super) struct Watched {
    /// What calls for a rollback, if anything.
    pub trouble: Option<String>,
    /// The analysis' failing figures, for the rollback's record.
    pub analysis: Option<String>,
    /// Whether the trouble showed the build bad (block it) or only that it could not be
    /// judged (roll back, do not block).
    pub proven: bool,
}

/// What one round saw.
#[derive(Debug, Default)]
struct Observed {
    /// Evidence against the build.
    problems: Vec<String>,
    /// Why (part of) the round could not be judged.
    unjudged: Vec<String>,
    /// The analysis' line, when it judged.
    analysis: Option<String>,
    /// Its failing figures, for the record.
    failing: Option<String>,
}

impl Observed {
    fn seen(&self) -> Seen {
        match (self.problems.is_empty(), self.unjudged.is_empty()) {
            (false, _) => Seen::Failing,
            (true, false) => Seen::Unjudged,
            (true, true) => Seen::Healthy,
        }
    }

    fn line(&self) -> String {
        let mut line = match self.seen() {
            Seen::Healthy => "healthy".to_owned(),
            Seen::Failing => self.problems.join("; "),
            Seen::Unjudged => format!("could not be judged: {}", self.unjudged.join("; ")),
        };
        if let Some(analysis) = &self.analysis {
            line = format!("{line}; analysis {analysis}");
        }
        line
    }

    fn trouble(&self) -> String {
        let mut all = self.problems.clone();
        if !self.unjudged.is_empty() {
            all.push(format!("could not be judged: {}", self.unjudged.join("; ")));
        }
        all.join("; ")
    }
}

/// What the replicas of an environment answer now: the probes, their restarts summed, and
/// their addresses.
async fn observe(
    pipeline: &Pipeline,
    stage: &Stage,
    app: &AppStage,
) -> Result<(Vec<Probe>, i64, Vec<String>)> {
    let observed = pipeline.target.probe(&app.app, &stage.env).await?;
    let restarts: i64 = observed.iter().map(|(r, _)| r.restarts).sum();
    let urls: Vec<String> = observed.iter().filter_map(|(r, _)| r.url.clone()).collect();
    let probes: Vec<Probe> = observed.into_iter().map(|(_, p)| p).collect();
    Ok((probes, restarts, urls))
}

/// `work`, tried up to `tries` times `pause` apart while it errors; each failure is reported.
async fn retried<T, F, Fut>(
    tries: u32,
    pause: Duration,
    what: &str,
    reporter: (&dyn Reporter, &str),
    mut work: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut tried = 1;
    loop {
        match work().await {
            Err(error) if tried < tries.max(1) => {
                let (reporter, step) = reporter;
                reporter.progress(
                    step,
                    format!("{what}: could not be judged: {error}; retrying"),
                );
                tried += 1;
                tokio::time::sleep(pause).await;
            }
            done => return done,
        }
    }
}

/// Watches `app` in `stage.env`; `baseline` is the previous build's figures when it has an
/// analysis. An error here is a watch that could not begin: the caller rolls back without
/// blocking. Every app of a stage is watched at once, over one window (`act`).
pub(super) async fn watch(
    pipeline: &Pipeline,
    stage: &Stage,
    app: &AppStage,
    monitor: MonitorStep,
    baseline: Option<Window>,
    step: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, String, Watched)> {
    let sha = &app.sha;
    // Every app of a release is watched at once: each line names its app.
    let who = if stage.apps.len() > 1 {
        format!("{}: ", app.app)
    } else {
        String::new()
    };
    let env = &pipeline
        .config
        .for_app(pipeline.config.app(app.app.as_str())?, &stage.env);
    let interval = monitor.interval.min(monitor.duration);
    let tries = monitor.failures;
    let tip = pipeline.git(|repo| repo.fetch()).await?;
    let desired = sync::desired_state(pipeline, &app.app, env, &tip).await?;
    let to = (reporter, step);
    let measured = measure(&monitor);
    let (_, restarts_at_start, urls) = retried(tries, interval, "start", to, || {
        observe(pipeline, stage, app)
    })
    .await?;
    let mut analysis = match &env.analysis {
        // Long enough for a window extended once.
        Some(config) => Some(
            retried(tries, interval, "start", to, || {
                Analysis::begin(
                    pipeline,
                    (&app.app, &stage.env),
                    config,
                    baseline.clone(),
                    &measured,
                    urls.clone(),
                    monitor.duration * 2,
                )
            })
            .await?,
        ),
        None => None,
    };
    let (rounds_at_most, finals) = looks(
        monitor.duration,
        monitor.interval,
        analysis.as_ref().map(|a| a.config.inconclusive),
    );
    let mut streak = Streak::default();
    let mut rounds = 0;
    let mut window = monitor.duration;
    let mut extended = false;
    let started = Instant::now();
    loop {
        while started.elapsed() < window {
            tokio::time::sleep(interval).await;
            rounds += 1;
            let mut seen = Observed::default();
            match observe(pipeline, stage, app).await {
                Ok((probes, restarts, _)) => {
                    seen.problems = problems(&Round {
                        probes: &probes,
                        restarts,
                        restarts_at_start,
                        expected_sha: sha.as_str(),
                        expected_replicas: desired.replicas,
                    });
                }
                Err(error) => seen.unjudged.push(format!("probe: {error}")),
            }
            if let Some(analysis) = &mut analysis {
                let look = Look::Round {
                    rounds: rounds_at_most,
                };
                match analysis.judge(pipeline, look).await {
                    Ok((summary, verdict)) => {
                        seen.analysis = Some(analysis.describe(&summary, &verdict));
                        if let Verdict::Fail { .. } = verdict {
                            let failing = findings(&verdict);
                            if shows_bad(&verdict) {
                                seen.problems.push(format!("analysis {verdict}"));
                            } else {
                                seen.unjudged.push(failing.clone());
                            }
                            seen.failing = Some(failing);
                        }
                    }
                    Err(error) => seen.unjudged.push(format!("metrics: {error}")),
                }
            }
            reporter.progress(step, format!("{who}round {rounds}: {}", seen.line()));
            if streak.see(seen.seen(), monitor.failures) {
                let proven = streak.proven();
                let how = if proven {
                    "failing"
                } else {
                    "failing or not judged"
                };
                return Ok((
                    Outcome::Failed,
                    format!("{how} for {} rounds: {}", streak.failing, seen.trouble()),
                    Watched {
                        trouble: Some(seen.trouble()),
                        analysis: seen.failing,
                        proven,
                    },
                ));
            }
        }
        let Some(analysis) = &mut analysis else {
            break;
        };
        let look = Look::Final { finals };
        let (summary, verdict) = match final_read(pipeline, analysis, look, interval).await {
            Ok(judged) => judged,
            Err(error) => {
                let why = format!("the window's end could not be judged: {error}");
                let watched = Watched {
                    trouble: Some(why.clone()),
                    analysis: None,
                    proven: false,
                };
                return Ok((Outcome::Failed, why, watched));
            }
        };
        let described = analysis.describe(&summary, &verdict);
        match decide(&verdict, analysis.config.inconclusive, extended) {
            Decision::Pass => {
                let counted = match verdict {
                    Verdict::Inconclusive { .. } => " (passed: inconclusive = \"pass\")",
                    _ => "",
                };
                return Ok((
                    Outcome::Succeeded,
                    format!(
                        "healthy for {rounds} rounds over {}; analysis {described}{counted}",
                        humantime::format_duration(window)
                    ),
                    Watched::default(),
                ));
            }
            Decision::Fail(reason) | Decision::Unproven(reason) => {
                return Ok((
                    Outcome::Failed,
                    format!("analysis {described}"),
                    Watched {
                        trouble: Some(reason),
                        analysis: Some(findings(&verdict)),
                        proven: shows_bad(&verdict),
                    },
                ));
            }
            Decision::Extend => {
                reporter.progress(
                    step,
                    format!(
                        "analysis {described}: watching {} more",
                        humantime::format_duration(monitor.duration)
                    ),
                );
                window += monitor.duration;
                extended = true;
            }
        }
    }
    Ok((
        Outcome::Succeeded,
        format!(
            "healthy for {rounds} rounds over {}",
            humantime::format_duration(monitor.duration)
        ),
        Watched::default(),
    ))
}

/// The window's final judgement: a read that errors or finds a replica unreadable is tried
/// again, [`FINAL_READS`] times within one interval, before it stands.
async fn final_read(
    pipeline: &Pipeline,
    analysis: &mut Analysis,
    look: Look,
    interval: Duration,
) -> Result<(Summary, Verdict)> {
    let pause = interval / FINAL_READS;
    let mut tried = 1;
    loop {
        let judged = analysis.judge(pipeline, look).await;
        let readable = matches!(&judged, Ok((summary, _)) if summary.unreadable.is_empty());
        if readable || tried >= FINAL_READS {
            return judged;
        }
        tried += 1;
        tokio::time::sleep(pause).await;
    }
}

/// Whether a failing verdict showed the build bad, not only that a replica could not be read.
pub(super) fn shows_bad(verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Fail { findings } => findings.iter().any(|f| f.metric != Metric::Unreadable),
        _ => false,
    }
}

/// How the window is measured: as long as the watch, read every round, under the load the
/// plan settled (the configured rate, or more where the plan raised it to reach the
/// analysis' minimum).
pub(super) fn measure(monitor: &MonitorStep) -> Measure {
    Measure {
        length: monitor.duration,
        interval: monitor.interval.min(monitor.duration),
        load_rate: monitor.analysis.as_ref().and_then(|a| a.load_rate),
    }
}

/// The most rounds a window of `length` read every `interval` can have (an extension
/// included) and how many ends it may have: what each look's share of the error budget is
/// divided by. The watch's and the canary's windows count alike.
pub(super) fn looks(
    length: std::time::Duration,
    interval: std::time::Duration,
    inconclusive: Option<Inconclusive>,
) -> (u32, u32) {
    let interval = interval.min(length).as_secs_f64().max(0.001);
    let rounds = (length.as_secs_f64() / interval).ceil().max(1.0) as u32;
    match inconclusive {
        Some(Inconclusive::Extend) => (rounds * 2, 2),
        _ => (rounds, 1),
    }
}

/// The record's text for a failing verdict: its findings, or why it could not judge.
pub(super) fn findings(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Fail { findings } => findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
