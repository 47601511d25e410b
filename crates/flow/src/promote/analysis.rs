//! The metric side of a watch (`[environments.analysis]`): the previous build measured over a
//! window of the same length just before the write (its baseline), every replica's
//! `/metrics` read at the window's start and at each round, the optional synthetic load, and
//! `policy::analysis` judging what was served.

use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, Pipeline, Result};
use adapters::load::{Load, LoadPlan};
use config::AnalysisConfig;
use model::report::Reporter;
use model::{EnvName, GitSha, LoadCounts, MetricsSnapshot};
use policy::analysis::{Look, Reading, Summary, Thresholds, Verdict, Window, judge};

/// How a window is measured: its length, how often it is read, and the load sent meanwhile.
#[derive(Debug, Clone)]
pub(super) struct Measure {
    pub length: Duration,
    pub interval: Duration,
    /// Synthetic requests per second; `None`: none.
    pub load_rate: Option<f64>,
}

/// The previous build's window: what its replicas serve over `measure.length`, read every
/// interval, under the same synthetic load the new build will get, so both sides of the
/// comparison are measured alike. `None` when no replica of another build runs (a first
/// promotion). A read that fails is retried at the next interval; a baseline with fewer than
/// two complete reads cannot be compared with, and refuses (nothing is written yet).
pub(super) async fn baseline(
    pipeline: &Pipeline,
    app: &model::AppName,
    env: &EnvName,
    new: &GitSha,
    measure: &Measure,
    step: &str,
    reporter: &dyn Reporter,
) -> Result<Option<Window>> {
    let old_build = |snapshot: MetricsSnapshot| MetricsSnapshot {
        replicas: snapshot
            .replicas
            .into_iter()
            .filter(|r| r.build != new.as_str())
            .collect(),
        unreadable: snapshot.unreadable,
    };
    let replicas = pipeline.target.probe(app, env).await?;
    let urls: Vec<String> = replicas
        .iter()
        .filter(|(r, _)| r.tag != new.as_str())
        .filter_map(|(r, _)| r.url.clone())
        .collect();
    if urls.is_empty() {
        return Ok(None);
    }
    let load = start_load(pipeline, measure, urls, measure.length);
    let started = Instant::now();
    let mut readings = Vec::new();
    let mut failed = Vec::new();
    loop {
        // A read is timed when it is asked for, as the watch's rounds are (`Analysis::judge`):
        // a slow first answer must not shorten the window both sides are compared over.
        let at = started.elapsed().as_secs_f64();
        match pipeline.target.metrics(app, env).await.map(old_build) {
            Ok(metrics) if metrics.unreadable.is_empty() => readings.push(Reading {
                at,
                metrics,
                load: counts(load.as_ref()),
            }),
            Ok(metrics) => failed.push(metrics.unreadable.join("; ")),
            Err(error) => failed.push(error.to_string()),
        }
        // The last read is one asked for once the whole length has passed.
        if at >= measure.length.as_secs_f64() {
            break;
        }
        let left = measure.length.saturating_sub(started.elapsed());
        reporter.progress(
            step,
            format!(
                "measuring the previous build: {} read(s), {} left",
                readings.len(),
                humantime::format_duration(Duration::from_secs(left.as_secs()))
            ),
        );
        tokio::time::sleep(left.min(measure.interval)).await;
    }
    if readings.len() < 2 {
        return Err(Error::Baseline {
            env: env.to_string(),
            why: failed
                .last()
                .cloned()
                .unwrap_or_else(|| "too few reads".into()),
        });
    }
    Ok(Some(Window::new(&readings)))
}

/// One line for the previous build's figures.
pub(super) fn describe_baseline(baseline: Option<&Window>) -> String {
    match baseline {
        None => "no replica of a previous build to compare with".to_owned(),
        Some(b) => format!(
            "previous build over {:.0}s: {:.0} request(s), error ratio {}, p99 {}",
            b.total.seconds,
            b.total.overall.requests,
            ratio(b.total.overall.error_ratio()),
            millis(b.total.overall.p99)
        ),
    }
}

/// An analysis under way.
#[derive(Debug)]
pub(super) struct Analysis {
    /// The app and the environment whose replicas it reads.
    app: model::AppName,
    env: EnvName,
    pub config: AnalysisConfig,
    thresholds: Thresholds,
    baseline: Option<Window>,
    /// The complete reads so far, the window's start first.
    readings: Vec<Reading>,
    started: Instant,
    load: Option<Load>,
}

impl Analysis {
    /// Reads the window's start and starts the load, if any, to `urls` (the replicas'
    /// addresses as the target reaches them: published ports, or pod proxy paths) for at most
    /// `longest`. A start that cannot be read completely is an error: without it nothing
    /// served can be counted.
    pub async fn begin(
        pipeline: &Pipeline,
        (app, env): (&model::AppName, &EnvName),
        config: &AnalysisConfig,
        baseline: Option<Window>,
        measure: &Measure,
        urls: Vec<String>,
        longest: Duration,
    ) -> Result<Self> {
        let start = pipeline.target.metrics(app, env).await?;
        if !start.unreadable.is_empty() {
            return Err(Error::Smoke {
                app: app.to_string(),
                env: env.to_string(),
                problems: format!("/metrics unreadable on {}", start.unreadable.join("; ")),
            });
        }
        let load = start_load(pipeline, measure, urls, longest);
        Ok(Self {
            app: app.clone(),
            env: env.clone(),
            config: config.clone(),
            thresholds: config.thresholds(),
            baseline,
            readings: vec![Reading {
                at: 0.0,
                metrics: start,
                load: LoadCounts::default(),
            }],
            started: Instant::now(),
            load,
        })
    }

    /// Reads every replica now and judges the window so far at `look`. A complete read
    /// becomes the window's newest interval; one with an unreadable replica is judged (and
    /// fails) but kept out, so the next complete read still counts every replica once.
    pub async fn judge(&mut self, pipeline: &Pipeline, look: Look) -> Result<(Summary, Verdict)> {
        let reading = Reading {
            at: self.started.elapsed().as_secs_f64(),
            metrics: pipeline.target.metrics(&self.app, &self.env).await?,
            load: counts(self.load.as_ref()),
        };
        let window = if reading.metrics.unreadable.is_empty() {
            self.readings.push(reading);
            Window::new(&self.readings)
        } else {
            let mut readings = self.readings.clone();
            readings.push(reading);
            Window::new(&readings)
        };
        let verdict = judge(&self.thresholds, self.baseline.as_ref(), &window, look);
        Ok((window.total, verdict))
    }

    /// One line: the figures, the synthetic requests sent, the verdict.
    pub fn describe(&self, summary: &Summary, verdict: &Verdict) -> String {
        describe(summary, self.load.is_some(), verdict)
    }
}

/// One line: the figures, what the synthetic load saw, the verdict.
pub(super) fn describe(summary: &Summary, loaded: bool, verdict: &Verdict) -> String {
    let synthetic = &summary.synthetic;
    let failed = synthetic.unanswered + synthetic.server_errors + synthetic.rejected;
    let load = match (loaded, failed, synthetic.rejected) {
        (false, ..) => String::new(),
        (true, 0, _) => format!(" ({} synthetic)", synthetic.sent),
        (true, _, 0) => format!(
            " ({} synthetic: {} 5xx, {} unanswered)",
            synthetic.sent, synthetic.server_errors, synthetic.unanswered
        ),
        (true, _, rejected) => format!(
            " ({} synthetic: {} 5xx, {rejected} refused (4xx), {} unanswered)",
            synthetic.sent, synthetic.server_errors, synthetic.unanswered
        ),
    };
    let restarted = if summary.restarted.is_empty() {
        String::new()
    } else {
        format!(", restarted: {}", summary.restarted.join(", "))
    };
    format!(
        "{:.0} request(s){load} at {:.1}/s, error ratio {}, p50 {}, p99 {}{restarted}: {verdict}",
        summary.overall.requests,
        summary.rate(),
        ratio(summary.overall.error_ratio()),
        millis(summary.overall.p50),
        millis(summary.overall.p99),
    )
}

fn start_load(
    pipeline: &Pipeline,
    measure: &Measure,
    urls: Vec<String>,
    until: Duration,
) -> Option<Load> {
    measure.load_rate.map(|rate| {
        Load::start(
            LoadPlan { urls, rate, until },
            pipeline.target.load_sender(),
        )
    })
}

fn counts(load: Option<&Load>) -> LoadCounts {
    load.map(Load::counts).unwrap_or_default()
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"))
}

fn millis(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.1}ms", s * 1000.0))
}
