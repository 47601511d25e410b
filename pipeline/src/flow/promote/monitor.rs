//! Watching an environment after its change: every round probes every replica and asks
//! `policy::monitor` what is wrong; failing rounds in a row past the threshold call for a
//! rollback. Where the environment has an analysis, each round also judges what the replicas
//! served since the window began (a failing analysis is a failing round), and the window's
//! end gives the final verdict (`policy::analysis::decide`). Each round is reported, so a
//! watcher (or a test) sees it happen.

use tokio::time::Instant;

use super::analysis::{Analysis, Measure};
use crate::flow::{Pipeline, Result, sync};
use crate::model::{GitSha, Probe};
use crate::policy::analysis::{Decision, Inconclusive, Look, Verdict, Window, decide};
use crate::policy::monitor::{Round, Streak, problems};
use crate::policy::plan::{MonitorStep, Stage};
use crate::report::{Outcome, Reporter};

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

/// Watches `stage.env`; `baseline` is the previous build's figures when it has an analysis.
pub(super) async fn watch(
    pipeline: &Pipeline,
    stage: &Stage,
    monitor: MonitorStep,
    sha: &GitSha,
    baseline: Option<Window>,
    step: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, String, Watched)> {
    let env = pipeline.config.environment(stage.env.as_str())?;
    let tip = pipeline.git(|repo| repo.fetch()).await?;
    let desired = sync::desired_state(pipeline, env, &tip).await?;
    let observe = || async {
        let observed = pipeline.target.probe(&stage.env).await?;
        let restarts: i64 = observed.iter().map(|(r, _)| r.restarts).sum();
        let urls: Vec<String> = observed.iter().filter_map(|(r, _)| r.url.clone()).collect();
        let probes: Vec<Probe> = observed.into_iter().map(|(_, p)| p).collect();
        Ok::<_, crate::flow::Error>((probes, restarts, urls))
    };
    let (_, restarts_at_start, urls) = observe().await?;
    let mut analysis = match &env.analysis {
        // Long enough for a window extended once.
        Some(config) => Some(
            Analysis::begin(
                pipeline,
                &stage.env,
                config,
                baseline,
                &measure(&monitor, config),
                urls,
                monitor.duration * 2,
            )
            .await?,
        ),
        None => None,
    };
    let (rounds_at_most, finals) = looks(&monitor, analysis.as_ref().map(|a| &a.config));
    let mut streak = Streak::default();
    let mut rounds = 0;
    let mut window = monitor.duration;
    let mut extended = false;
    let started = Instant::now();
    loop {
        while started.elapsed() < window {
            tokio::time::sleep(monitor.interval.min(monitor.duration)).await;
            let (probes, restarts, _) = observe().await?;
            let mut found = problems(&Round {
                probes: &probes,
                restarts,
                restarts_at_start,
                expected_sha: sha.as_str(),
                expected_replicas: desired.replicas,
            });
            rounds += 1;
            let mut line = if found.is_empty() {
                format!("round {rounds}: healthy")
            } else {
                format!("round {rounds}: {}", found.join("; "))
            };
            let mut failing = None;
            if let Some(analysis) = &mut analysis {
                let look = Look::Round {
                    rounds: rounds_at_most,
                };
                let (summary, verdict) = analysis.judge(pipeline, &stage.env, look).await?;
                line = format!("{line}; analysis {}", analysis.describe(&summary, &verdict));
                if let Verdict::Fail { .. } = verdict {
                    found.push(format!("analysis {verdict}"));
                    failing = Some(findings(&verdict));
                }
            }
            reporter.progress(step, line);
            if streak.record(!found.is_empty(), monitor.failures) {
                return Ok((
                    Outcome::Failed,
                    format!(
                        "failing for {} rounds: {}",
                        streak.failing,
                        found.join("; ")
                    ),
                    Watched {
                        trouble: Some(found.join("; ")),
                        analysis: failing,
                        proven: true,
                    },
                ));
            }
        }
        let Some(analysis) = &mut analysis else {
            break;
        };
        let look = Look::Final { finals };
        let (summary, verdict) = analysis.judge(pipeline, &stage.env, look).await?;
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
                let proven = matches!(verdict, Verdict::Fail { .. });
                return Ok((
                    Outcome::Failed,
                    format!("analysis {described}"),
                    Watched {
                        trouble: Some(reason),
                        analysis: Some(findings(&verdict)),
                        proven,
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

/// How the window is measured: as long as the watch, read every round, under the load the
/// configuration asks for.
pub(super) fn measure(monitor: &MonitorStep, config: &crate::config::AnalysisConfig) -> Measure {
    Measure {
        length: monitor.duration,
        interval: monitor.interval.min(monitor.duration),
        load_rate: config.load_rate,
    }
}

/// The most rounds the window can have (an extension included) and how many ends it may
/// have: what each look's share of the error budget is divided by.
fn looks(monitor: &MonitorStep, config: Option<&crate::config::AnalysisConfig>) -> (u32, u32) {
    let interval = monitor
        .interval
        .min(monitor.duration)
        .as_secs_f64()
        .max(0.001);
    let rounds = (monitor.duration.as_secs_f64() / interval).ceil().max(1.0) as u32;
    match config.map(|c| c.inconclusive) {
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
