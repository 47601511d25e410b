//! Judging a window's [`Summary`]: absolute limits (error ratio, p99), the comparison with the
//! build that ran before, and what an inconclusive window (too few requests) turns into.
//! [`judge`] compares two summaries, so a canary (one new replica against the old ones)
//! can reuse it as is.

use std::fmt;
use std::time::Duration;

use super::{Stats, Summary};

/// Below these, the previous build's figures are read as these: a clean baseline (no 5xx,
/// sub-millisecond answers) must not turn one error or a scheduler hiccup into "N× worse".
pub const BASELINE_ERROR_RATIO_FLOOR: f64 = 0.01;
pub const BASELINE_P99_FLOOR: Duration = Duration::from_millis(10);

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

/// Which figure broke a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ErrorRatio,
    P99,
    /// Replicas whose `/metrics` could not be read (`value`: how many; `scope`: which).
    Unreadable,
}

/// One broken rule, with the figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    pub metric: Metric,
    /// `overall` or the route (`GET /`).
    pub scope: String,
    /// The measured figure (a ratio, or seconds).
    pub value: f64,
    /// The limit it passed.
    pub limit: f64,
    /// The previous build's figure, when the limit came from it.
    pub baseline: Option<f64>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.metric == Metric::Unreadable {
            return write!(f, "/metrics unreadable on {}", self.scope);
        }
        let show = |v: f64| match self.metric {
            Metric::ErrorRatio => format!("{v:.3}"),
            Metric::P99 | Metric::Unreadable => format!("{:.1}ms", v * 1000.0),
        };
        let name = match self.metric {
            Metric::ErrorRatio => "error ratio",
            Metric::P99 | Metric::Unreadable => "p99",
        };
        write!(f, "{name} {} > {}", show(self.value), show(self.limit))?;
        if let Some(baseline) = self.baseline {
            write!(f, " (previous build {})", show(baseline))?;
        }
        if self.scope == "overall" {
            f.write_str(" overall")
        } else {
            write!(f, " on {}", self.scope)
        }
    }
}

/// What a window says about the build.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    Pass,
    Fail {
        findings: Vec<Finding>,
    },
    /// Too few requests to judge.
    Inconclusive {
        requests: f64,
        min_requests: u64,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pass => f.write_str("pass"),
            Self::Fail { findings } => {
                let all: Vec<String> = findings.iter().map(ToString::to_string).collect();
                write!(f, "fail: {}", all.join("; "))
            }
            Self::Inconclusive {
                requests,
                min_requests,
            } => write!(
                f,
                "inconclusive: {requests:.0} request(s), at least {min_requests} needed"
            ),
        }
    }
}

/// Judges `current` against `thresholds` and, when it served enough to compare, `baseline`
/// (the build that ran before, or the old replicas next to a canary). A replica whose
/// `/metrics` could not be read fails the window: what it served is unseen, and a gate that
/// cannot see fails closed (a build that breaks `/metrics` must not pass as quiet).
pub fn judge(thresholds: &Thresholds, baseline: Option<&Summary>, current: &Summary) -> Verdict {
    if !current.unreadable.is_empty() {
        return Verdict::Fail {
            findings: vec![Finding {
                metric: Metric::Unreadable,
                scope: current.unreadable.join("; "),
                value: current.unreadable.len() as f64,
                limit: 0.0,
                baseline: None,
            }],
        };
    }
    let min = thresholds.min_requests as f64;
    if current.overall.requests < min.max(1.0) {
        return Verdict::Inconclusive {
            requests: current.overall.requests,
            min_requests: thresholds.min_requests,
        };
    }
    let max_p99 = thresholds.max_p99.as_secs_f64();
    let mut findings = limits(&current.overall, "overall", thresholds, max_p99);
    for (route, stats) in &current.routes {
        if stats.requests >= min.max(1.0) {
            findings.extend(limits(stats, &scope(route, stats), thresholds, max_p99));
        }
    }
    if let Some(baseline) = baseline.filter(|b| b.overall.requests >= min.max(1.0)) {
        findings.extend(against(thresholds, &baseline.overall, &current.overall));
    }
    if findings.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Fail { findings }
    }
}

fn scope(route: &str, stats: &Stats) -> String {
    match stats.methods.as_slice() {
        [method] => format!("{method} {route}"),
        _ => route.to_owned(),
    }
}

fn limits(stats: &Stats, scope: &str, thresholds: &Thresholds, max_p99: f64) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(ratio) = stats.error_ratio()
        && ratio > thresholds.max_error_ratio
    {
        findings.push(Finding {
            metric: Metric::ErrorRatio,
            scope: scope.to_owned(),
            value: ratio,
            limit: thresholds.max_error_ratio,
            baseline: None,
        });
    }
    if let Some(p99) = stats.p99
        && p99 > max_p99
    {
        findings.push(Finding {
            metric: Metric::P99,
            scope: scope.to_owned(),
            value: p99,
            limit: max_p99,
            baseline: None,
        });
    }
    findings
}

fn against(thresholds: &Thresholds, baseline: &Stats, current: &Stats) -> Vec<Finding> {
    let mut findings = Vec::new();
    let compare = |metric, factor: Option<f64>, old: Option<f64>, new: Option<f64>, floor| {
        let (factor, old, new) = (factor?, old?, new?);
        let limit = factor * old.max(floor);
        (new > limit).then_some(Finding {
            metric,
            scope: "overall".to_owned(),
            value: new,
            limit,
            baseline: Some(old),
        })
    };
    findings.extend(compare(
        Metric::ErrorRatio,
        thresholds.baseline_error_factor,
        baseline.error_ratio(),
        current.error_ratio(),
        BASELINE_ERROR_RATIO_FLOOR,
    ));
    findings.extend(compare(
        Metric::P99,
        thresholds.baseline_p99_factor,
        baseline.p99,
        current.p99,
        BASELINE_P99_FLOOR.as_secs_f64(),
    ));
    findings
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

/// What the monitor does with a window's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Pass,
    /// Roll back, for this reason.
    Fail(String),
    /// Watch another window.
    Extend,
}

/// Decides on the final verdict of a window. A window that was already extended and is
/// still inconclusive fails: a gate that cannot see fails closed.
pub fn decide(verdict: &Verdict, choice: Inconclusive, extended: bool) -> Decision {
    match verdict {
        Verdict::Pass => Decision::Pass,
        Verdict::Fail { .. } => Decision::Fail(format!("analysis {verdict}")),
        Verdict::Inconclusive { .. } => match choice {
            Inconclusive::Pass => Decision::Pass,
            Inconclusive::Extend if !extended => Decision::Extend,
            Inconclusive::Fail | Inconclusive::Extend => {
                Decision::Fail(format!("analysis {verdict}"))
            }
        },
    }
}
