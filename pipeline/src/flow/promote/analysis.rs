//! The metric side of a watch (`[environments.analysis]`): the previous build's figures read
//! just before the write, every replica's `/metrics` read at the window's start and at each
//! round, the optional synthetic load, and `policy::analysis` judging what was served.

use tokio::time::Instant;

use crate::adapters::load::{Load, LoadPlan};
use crate::config::AnalysisConfig;
use crate::flow::{Pipeline, Result};
use crate::model::{EnvName, GitSha, MetricsSnapshot};
use crate::policy::analysis::{Summary, Thresholds, Verdict, judge, summarize, traffic};

/// The previous build's figures: what its replicas served since they started, read before
/// the write (so before any of them is replaced). `None` when no replica of another build
/// answers, as on a first promotion.
pub(super) async fn baseline(
    pipeline: &Pipeline,
    env: &EnvName,
    new: &GitSha,
) -> Result<Option<Summary>> {
    let now = pipeline.target.metrics(env).await?;
    let old = MetricsSnapshot {
        replicas: now
            .replicas
            .into_iter()
            .filter(|r| r.build != new.as_str())
            .collect(),
        unreadable: Vec::new(),
    };
    if old.replicas.is_empty() {
        return Ok(None);
    }
    Ok(Some(summarize(
        &traffic(&MetricsSnapshot::default(), &old),
        0.0,
    )))
}

/// One line for the previous build's figures.
pub(super) fn describe_baseline(baseline: Option<&Summary>) -> String {
    match baseline {
        None => "no replica of a previous build to compare with".to_owned(),
        Some(b) => format!(
            "previous build: {:.0} request(s), error ratio {}, p99 {}",
            b.overall.requests,
            ratio(b.overall.error_ratio()),
            millis(b.overall.p99)
        ),
    }
}

/// An analysis under way.
#[derive(Debug)]
pub(super) struct Analysis {
    pub config: AnalysisConfig,
    thresholds: Thresholds,
    baseline: Option<Summary>,
    start: MetricsSnapshot,
    started: Instant,
    load: Option<Load>,
}

impl Analysis {
    /// Reads the window's start and starts the load, if any, to `urls` (the replicas'
    /// addresses as the target reaches them: published ports, or pod proxy paths) for at most
    /// `longest`.
    pub async fn begin(
        pipeline: &Pipeline,
        env: &EnvName,
        config: &AnalysisConfig,
        baseline: Option<Summary>,
        urls: Vec<String>,
        longest: std::time::Duration,
    ) -> Result<Self> {
        let start = pipeline.target.metrics(env).await?;
        let load = config.load_rate.map(|rate| {
            Load::start(
                LoadPlan {
                    urls,
                    rate,
                    until: longest,
                },
                pipeline.target.load_sender(),
            )
        });
        Ok(Self {
            config: config.clone(),
            thresholds: config.thresholds(),
            baseline,
            start,
            started: Instant::now(),
            load,
        })
    }

    /// What was served since the start, and its verdict.
    pub async fn judge(&self, pipeline: &Pipeline, env: &EnvName) -> Result<(Summary, Verdict)> {
        let now = pipeline.target.metrics(env).await?;
        let summary = summarize(
            &traffic(&self.start, &now),
            self.started.elapsed().as_secs_f64(),
        );
        let verdict = judge(&self.thresholds, self.baseline.as_ref(), &summary);
        Ok((summary, verdict))
    }

    /// One line: the figures, the synthetic requests sent, the verdict.
    pub fn describe(&self, summary: &Summary, verdict: &Verdict) -> String {
        let load = self
            .load
            .as_ref()
            .map(|l| format!(" ({} synthetic)", l.sent()))
            .unwrap_or_default();
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
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"))
}

fn millis(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".to_owned(), |s| format!("{:.1}ms", s * 1000.0))
}
