//! A canary before the rollout (`canary` in `pipeline.toml`, local target): right after the
//! values write, with the environment held, one replica of the new build starts beside all
//! the old ones (`policy::rollout::canary_step`), both are read at the window's start and end
//! (under the synthetic load when configured), and `policy::analysis::judge` compares the
//! canary with the old replicas. A pass lets the normal deploy roll the rest; a fail is rolled
//! back like a failed watch, which retires the canary (its spec is no longer desired).

use tokio::time::Instant;

use crate::steps::Steps;
use crate::{Error, Pipeline, Result, sync};
use adapters::load::{Load, LoadPlan};
use adapters::target::{Replica, SyncMode};
use config::EnvironmentConfig;
use model::report::{Outcome, Reporter};
use policy::analysis::{Decision, Look, Reading, Summary, Verdict, Window, decide, judge};
use policy::plan::{AppStage, CanaryStep, Stage};
use policy::rollout::canary_step;

/// A canary that failed: why, its figures for the rollback's record, and whether it showed
/// the build bad (block it) or could not judge it (roll back, do not block).
#[derive(Debug, Clone)]
pub(super) struct Failed {
    pub trouble: String,
    pub analysis: Option<String>,
    pub proven: bool,
}

/// Runs `stage`'s canary, when it has one and its values changed (`committed`; an unchanged
/// file was rolled out before). `Some` calls for a rollback.
pub(super) async fn run(
    pipeline: &Pipeline,
    steps: &mut Steps<'_>,
    stage: &Stage,
    committed: bool,
) -> Result<Option<Failed>> {
    // The plan refuses a canary in a stage of several apps: it moves one app.
    let Some(app) = stage.apps.first().filter(|_| stage.apps.len() == 1) else {
        return Ok(None);
    };
    let Some(canary) = app.canary.as_ref().filter(|_| committed) else {
        return Ok(None);
    };
    let step = format!("canary-{}", stage.env);
    let reporter = steps.reporter();
    steps
        .run(&step, async {
            match compare(pipeline, stage, app, canary, &step, reporter).await {
                Err(error @ Error::Superseded { .. }) => Err(error),
                // A canary that cannot start or be read is a failed canary: fail closed.
                Err(error) => Ok((
                    Outcome::Failed,
                    error.to_string(),
                    Some(Failed {
                        trouble: format!("canary: {error}"),
                        analysis: None,
                        proven: false,
                    }),
                )),
                Ok(done) => Ok(done),
            }
        })
        .await
}

/// The canary, started and serving beside the old replicas.
struct Started {
    canary: Replica,
    old: Vec<Replica>,
    /// The build the old replicas run (what the values named before the write).
    old_build: String,
}

/// Holds the environment, starts the canary and judges it over the window.
async fn compare(
    pipeline: &Pipeline,
    stage: &Stage,
    app: &AppStage,
    canary: &CanaryStep,
    step: &str,
    reporter: &dyn Reporter,
) -> Result<(Outcome, String, Option<Failed>)> {
    let sha = &app.sha;
    let env = &pipeline
        .config
        .for_app(pipeline.config.app(app.app.as_str())?, &stage.env);
    let Some(analysis) = &env.analysis else {
        // The configuration refuses a canary without thresholds; judged by nothing, it fails.
        let why = "no [environments.analysis] thresholds to judge it by";
        return Ok(failed(why, format!("canary: {why}"), None));
    };
    // Held for the whole window: no other run (a `sync --watch`) finishes the rollout
    // meanwhile. Released before the deploy or the rollback, which hold it themselves.
    let _held = pipeline.target.lock(&stage.env).await?;
    let started = start(pipeline, env, stage, app, reporter).await?;
    reporter.progress(
        step,
        format!(
            "{} runs {} beside {} old replica(s); comparing for {}",
            started.canary.name,
            sha.short(),
            started.old.len(),
            humantime::format_duration(canary.window)
        ),
    );
    let target = &pipeline.target;
    // Half the load to the canary, half shared by the old replicas: each side's figures rest
    // on about as many requests, and each side's load counts its own unanswered requests.
    // The plan's rate: the configured one, or more where it was raised to give each side the
    // analysis' minimum.
    let rate = canary.analysis.as_ref().and_then(|a| a.load_rate);
    let half = rate.map(|rate| rate / 2.0);
    let until = canary.window * 2;
    let load = |urls: Vec<String>| {
        half.map(|rate| {
            let plan = LoadPlan { urls, rate, until };
            Load::start(plan, target.load_sender())
        })
    };
    let new_load = load(started.canary.url.clone().into_iter().collect());
    let old_load = load(started.old.iter().filter_map(|r| r.url.clone()).collect());
    let counts = |l: &Option<Load>| l.as_ref().map(Load::counts).unwrap_or_default();
    let began = Instant::now();
    let mut new_side = Vec::new();
    let mut old_side = Vec::new();
    let (rounds, finals) = super::monitor::looks(
        canary.window,
        env.monitor_interval,
        Some(analysis.inconclusive),
    );
    let mut window = canary.window;
    let mut extended = false;
    loop {
        let deadline = began + window;
        let mut look = Look::Round { rounds };
        let (new, old, verdict) = loop {
            let metrics = target.metrics(&app.app, &stage.env).await?;
            let at = began.elapsed().as_secs_f64();
            let reading = |build: &str, load| Reading {
                at,
                metrics: metrics.of_build(build),
                load,
            };
            new_side.push(reading(sha.as_str(), counts(&new_load)));
            old_side.push(reading(&started.old_build, counts(&old_load)));
            let (new, old) = (Window::new(&new_side), Window::new(&old_side));
            if !metrics.unreadable.is_empty() {
                // Judged (it fails) with the unreadable read, which no interval keeps.
                new_side.pop();
                old_side.pop();
            }
            let verdict = if new_side.len() > 1 && old.total.overall.requests <= 0.0 {
                Verdict::nothing_to_compare(
                    new.total.overall.requests,
                    analysis.min_requests,
                    "the old replicas served nothing to compare the canary with",
                )
            } else {
                judge(&analysis.thresholds(), Some(&old), &new, look)
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if matches!(look, Look::Final { .. }) || matches!(verdict, Verdict::Fail { .. }) {
                break (new, old, verdict);
            }
            if new_side.len() > 1 {
                let line = format!(
                    "canary {}; old {}",
                    figures(&new.total),
                    figures(&old.total)
                );
                reporter.progress(step, line);
            }
            tokio::time::sleep(left.min(env.monitor_interval)).await;
            if Instant::now() >= deadline {
                look = Look::Final { finals };
            }
        };
        let described = format!(
            "canary {}; old {}: {verdict}",
            figures(&new.total),
            figures(&old.total)
        );
        match decide(&verdict, analysis.inconclusive, extended) {
            Decision::Pass => return Ok((Outcome::Succeeded, described, None)),
            Decision::Fail(reason) | Decision::Unproven(reason) => {
                return Ok(failed(
                    &described,
                    format!("canary {reason}"),
                    Some(&verdict),
                ));
            }
            Decision::Extend => {
                let more = humantime::format_duration(canary.window);
                reporter.progress(step, format!("{described}: comparing {more} more"));
                window += canary.window;
                extended = true;
            }
        }
    }
}

/// Converges `stage.env` with the canary rule to the tip, which must still name `sha`, and
/// finds the one canary and the old replicas beside it.
async fn start(
    pipeline: &Pipeline,
    env: &EnvironmentConfig,
    stage: &Stage,
    app: &AppStage,
    reporter: &dyn Reporter,
) -> Result<Started> {
    let sha = &app.sha;
    let tip = pipeline.git(|repo| repo.fetch()).await?;
    let desired = sync::desired_state(pipeline, &app.app, env, &tip).await?;
    let wanted = desired.image.as_ref().map(|i| i.tag.to_string());
    if wanted.as_deref() != Some(sha.as_str()) {
        return Err(Error::Superseded {
            app: app.app.to_string(),
            env: stage.env.to_string(),
            build: sha.to_string(),
            now: wanted.unwrap_or_default(),
        });
    }
    let (timeout, mode) = (env.sync_timeout, SyncMode::Explicit);
    let target = &pipeline.target;
    target
        .converge(&desired, timeout, mode, canary_step, reporter)
        .await?;
    let (mut new, old): (Vec<Replica>, Vec<Replica>) = target
        .probe(&app.app, &stage.env)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r.running)
        .partition(|r| r.tag == sha.as_str());
    let running = new.len();
    let (Some(canary), 1) = (new.pop(), running) else {
        return Err(Error::Smoke {
            app: app.app.to_string(),
            env: stage.env.to_string(),
            problems: format!("{running} replica(s) run the build; a canary is exactly one"),
        });
    };
    let old_build = app
        .edit
        .keys
        .iter()
        .find(|k| k.key == "image.tag")
        .map(|k| k.from.clone())
        .unwrap_or_default();
    Ok(Started {
        canary,
        old,
        old_build,
    })
}

/// One side's figures in a line.
fn figures(s: &Summary) -> String {
    let ratio = s
        .overall
        .error_ratio()
        .map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
    let p99 = s
        .overall
        .p99
        .map_or_else(|| "-".to_owned(), |p| format!("{:.1}ms", p * 1000.0));
    format!(
        "{} request(s), error ratio {ratio}, p99 {p99}",
        s.overall.requests
    )
}

/// A failed canary: the step's `detail`, the rollback's `trouble` and, from a verdict, the
/// figures for its record.
fn failed(
    detail: &str,
    trouble: String,
    verdict: Option<&Verdict>,
) -> (Outcome, String, Option<Failed>) {
    let analysis = verdict.map(|v| format!("canary: {}", super::monitor::findings(v)));
    let proven = verdict.is_some_and(super::monitor::shows_bad);
    (
        Outcome::Failed,
        detail.to_owned(),
        Some(Failed {
            trouble,
            analysis,
            proven,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{MetricsSnapshot, ReplicaMetrics, RequestKey};

    fn replica(name: &str, build: &str, ok: f64, failed: f64) -> ReplicaMetrics {
        let key = |status| RequestKey {
            method: "GET".to_owned(),
            route: "/".to_owned(),
            status,
        };
        ReplicaMetrics {
            replica: name.to_owned(),
            build: build.to_owned(),
            requests: [(key(200), ok), (key(500), failed)].into_iter().collect(),
            latency: Default::default(),
        }
    }

    #[test]
    fn the_canary_and_the_old_replicas_are_summed_apart() {
        let new: model::GitSha = "1".repeat(40).parse().expect("sha");
        let snapshot = |replicas| MetricsSnapshot {
            replicas,
            unreadable: Vec::new(),
        };
        let start = snapshot(vec![
            replica("a", "old", 100.0, 0.0),
            replica("b", "old", 50.0, 1.0),
            replica("c", new.as_str(), 0.0, 0.0),
        ]);
        let now = snapshot(vec![
            replica("a", "old", 130.0, 0.0),
            replica("b", "old", 80.0, 1.0),
            replica("c", new.as_str(), 48.0, 12.0),
            // Another build's replica counts for neither side.
            replica("d", "other", 500.0, 500.0),
        ]);
        let side = |build: &str| {
            let reading = |at, m: &MetricsSnapshot| Reading {
                at,
                metrics: m.of_build(build),
                load: Default::default(),
            };
            Window::new(&[reading(0.0, &start), reading(10.0, &now)]).total
        };
        let (canary, old) = (side(new.as_str()), side("old"));
        assert_eq!(
            (canary.overall.requests, canary.overall.errors),
            (60.0, 12.0)
        );
        assert_eq!((old.overall.requests, old.overall.errors), (60.0, 0.0));
        assert_eq!(canary.seconds, 10.0);
    }
}
