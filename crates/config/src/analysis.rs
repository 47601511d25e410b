//! `[environments.analysis]`: the thresholds an environment's monitoring window (and its
//! canary) is judged by, and the synthetic load it may ask for.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use super::EnvironmentConfig;
use model::MAX_LOAD_RATE;

/// `[environments.analysis]`: the metric analysis of the monitoring window
/// (`policy::analysis`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Highest share of 5xx answers, overall and per route (0 to 1).
    pub max_error_ratio: f64,
    /// Highest p99 latency, overall and per route.
    #[serde(deserialize_with = "super::duration")]
    pub max_p99: Duration,
    /// Fewer requests in the window: inconclusive.
    pub min_requests: u64,
    /// At most this many times the previous build's error ratio (measured before the write).
    #[serde(default)]
    pub baseline_error_factor: Option<f64>,
    /// At most this many times the previous build's p99.
    #[serde(default)]
    pub baseline_p99_factor: Option<f64>,
    /// What too few requests mean: `pass`, `fail`, or `extend` the window once.
    pub inconclusive: Inconclusive,
    /// Synthetic requests per second to the environment's own replicas during the window;
    /// unset: none.
    #[serde(default)]
    pub load_rate: Option<f64>,
}

impl AnalysisConfig {
    /// The thresholds `policy::analysis::judge` applies.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            max_error_ratio: self.max_error_ratio,
            max_p99: self.max_p99,
            min_requests: self.min_requests,
            baseline_error_factor: self.baseline_error_factor,
            baseline_p99_factor: self.baseline_p99_factor,
        }
    }

    /// What is wrong with the values, naming the key; `None` when they are usable.
    pub(super) fn problem(&self, env: &EnvironmentConfig) -> Option<String> {
        let factor_ok = |f: Option<f64>| f.is_none_or(|f| f.is_finite() && f >= 1.0);
        if !(0.0..=1.0).contains(&self.max_error_ratio) {
            Some(format!(
                ".max_error_ratio: {} is not a ratio; expected a number from 0 to 1",
                self.max_error_ratio
            ))
        } else if self.max_p99.is_zero() {
            Some(".max_p99: 0s would fail every window; expected a duration such as 250ms".into())
        } else if self.min_requests == 0 {
            Some(".min_requests: expected at least 1".to_owned())
        } else if !factor_ok(self.baseline_error_factor) {
            Some(".baseline_error_factor: expected a number of at least 1".to_owned())
        } else if !factor_ok(self.baseline_p99_factor) {
            Some(".baseline_p99_factor: expected a number of at least 1".to_owned())
        } else if self
            .load_rate
            .is_some_and(|r| !(r.is_finite() && r > 0.0 && r <= MAX_LOAD_RATE))
        {
            Some(format!(
                ".load_rate: expected requests per second above 0 and at most {MAX_LOAD_RATE}"
            ))
        } else if env.monitor.is_zero() {
            Some(": set, but monitor is 0s (no window to analyse); expected monitor > 0".into())
        } else {
            None
        }
    }
}

/// The thresholds in words, as the plan shows them: `error ratio ≤ 0.05 and p99 ≤ 250ms,
/// overall and per route; ≤ 2× the previous build's error ratio, ≤ 3× its p99; at least 50
/// requests, else extend once; 5 synthetic requests/s`.
impl fmt::Display for AnalysisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error ratio ≤ {} and p99 ≤ {}, overall and per route",
            self.max_error_ratio,
            humantime::format_duration(self.max_p99)
        )?;
        let factors: Vec<String> = [
            self.baseline_error_factor
                .map(|x| format!("≤ {x}× the previous build's error ratio")),
            self.baseline_p99_factor.map(|x| format!("≤ {x}× its p99")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !factors.is_empty() {
            write!(f, "; {}", factors.join(", "))?;
        }
        let otherwise = match self.inconclusive {
            Inconclusive::Pass => "else pass",
            Inconclusive::Fail => "else fail",
            Inconclusive::Extend => "else extend once",
        };
        write!(f, "; at least {} requests, {otherwise}", self.min_requests)?;
        match self.load_rate {
            Some(rate) => write!(f, "; {rate} synthetic requests/s"),
            None => Ok(()),
        }
    }
}

/// What a window must show (`[environments.analysis]` in `pipeline.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Highest share of 5xx answers, overall and on any route.
    pub max_error_ratio: f64,
    /// Highest p99 latency, overall and on any route.
    pub max_p99: Duration,
    /// Fewer requests than this (overall; per route for the per-route rules) say nothing.
    pub min_requests: u64,
    /// At most this many times the previous build's error ratio.
    pub baseline_error_factor: Option<f64>,
    /// At most this many times the previous build's p99.
    pub baseline_p99_factor: Option<f64>,
}

/// What an inconclusive window turns into (`inconclusive` in `pipeline.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inconclusive {
    Pass,
    Fail,
    /// Watch once more for the same time, then judge again.
    Extend,
}
