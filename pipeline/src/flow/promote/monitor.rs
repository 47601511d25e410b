//! Watching an environment after its change: every round probes every replica and asks
//! `policy::monitor` what is wrong; failing rounds in a row past the threshold call for a
//! rollback. Each round is reported, so a watcher (or a test) sees it happen.

use tokio::time::Instant;

use crate::flow::{Pipeline, Result, sync};
use crate::model::{GitSha, Probe};
use crate::policy::monitor::{Round, Streak, problems};
use crate::policy::plan::{MonitorStep, Stage};
use crate::report::{Outcome, Reporter};

/// Watches `stage.env`: `Some(problems)` when failing rounds reached the threshold.
pub(super) async fn watch(
    pipeline: &Pipeline,
    stage: &Stage,
    monitor: MonitorStep,
    sha: &GitSha,
    step: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, String, Option<String>)> {
    let env = pipeline.config.environment(stage.env.as_str())?;
    let tip = pipeline.git(|repo| repo.fetch()).await?;
    let desired = sync::desired_state(pipeline, env, &tip).await?;
    let observe = || async {
        let observed = pipeline.target.probe(&stage.env).await?;
        let restarts: i64 = observed.iter().map(|(r, _)| r.restarts).sum();
        let probes: Vec<Probe> = observed.into_iter().map(|(_, p)| p).collect();
        Ok::<_, crate::flow::Error>((probes, restarts))
    };
    let (_, restarts_at_start) = observe().await?;
    let mut streak = Streak::default();
    let mut rounds = 0;
    let started = Instant::now();
    while started.elapsed() < monitor.duration {
        tokio::time::sleep(monitor.interval.min(monitor.duration)).await;
        let (probes, restarts) = observe().await?;
        let found = problems(&Round {
            probes: &probes,
            restarts,
            restarts_at_start,
            expected_sha: sha.as_str(),
            expected_replicas: desired.replicas,
        });
        rounds += 1;
        reporter.progress(
            step,
            if found.is_empty() {
                format!("round {rounds}: healthy")
            } else {
                format!("round {rounds}: {}", found.join("; "))
            },
        );
        if streak.record(!found.is_empty(), monitor.failures) {
            return Ok((
                Outcome::Failed,
                format!("unhealthy for {} rounds", streak.failing),
                Some(found.join("; ")),
            ));
        }
    }
    Ok((
        Outcome::Succeeded,
        format!(
            "healthy for {rounds} rounds over {}",
            humantime::format_duration(monitor.duration)
        ),
        None,
    ))
}
