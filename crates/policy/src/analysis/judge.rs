//! Judging a [`Window`]: absolute limits (error ratio, p99) and the comparison with a
//! baseline, each a statistical test at a stated level, and what an inconclusive window
//! turns into. [`judge`] compares two windows, so a canary (one new replica against the old
//! ones) reuses it as is. The levels and why: `docs/operations.md`, "Metric analysis".

use std::fmt;
use std::time::Duration;

use super::stats::{critical_z, mann_whitney_greater, proportion_higher, wilson};
use super::{Stats, Summary, Window, slower_than};
pub use config::{Inconclusive, Thresholds};

/// Below these, the previous build's figures are read as these: a clean baseline (no 5xx,
/// sub-millisecond answers) must not turn one error or a scheduler hiccup into "N× worse".
pub const BASELINE_ERROR_RATIO_FLOOR: f64 = 0.01;
pub const BASELINE_P99_FLOOR: Duration = Duration::from_millis(10);

/// Which figure broke a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    ErrorRatio,
    P99,
    /// Replicas whose `/metrics` could not be read (`value`: how many; `scope`: which).
    Unreadable,
    /// Requests without a single latency observation (`value`: how many requests).
    NoLatency,
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
        match self.metric {
            Metric::Unreadable => return write!(f, "/metrics unreadable on {}", self.scope),
            Metric::NoLatency => {
                return write!(
                    f,
                    "no latency histogram: {:.0} request(s) without a single \
                     http_request_duration_seconds observation",
                    self.value
                );
            }
            Metric::ErrorRatio | Metric::P99 => {}
        }
        let show = |v: f64| match self.metric {
            Metric::ErrorRatio => format!("{v:.3}"),
            _ => format!("{:.1}ms", v * 1000.0),
        };
        let name = match self.metric {
            Metric::ErrorRatio => "error ratio",
            _ => "p99",
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
    /// Too few requests to judge, or nothing to judge against (`reason`).
    Inconclusive {
        requests: f64,
        min_requests: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Verdict {
    /// Inconclusive for want of something to compare with (a canary whose old side served
    /// nothing), saying so.
    pub fn nothing_to_compare(requests: f64, min_requests: u64, why: impl Into<String>) -> Self {
        Self::Inconclusive {
            requests,
            min_requests,
            reason: Some(why.into()),
        }
    }
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
                reason: Some(reason),
                ..
            } => write!(f, "inconclusive: {reason}"),
            Self::Inconclusive {
                requests,
                min_requests,
                reason: None,
            } => write!(
                f,
                "inconclusive: {requests:.0} request(s), at least {min_requests} needed"
            ),
        }
    }
}

/// The share of a good build's windows the judge may roll back, all rules and rounds
/// together: the sum of the rules' shares below, each spent over the window's looks by
/// [`Look::alpha`] (a union bound, so the real rate is at most this; `cargo xtask bench
/// analysis` measures it).
pub const FALSE_ROLLBACK_BUDGET: f64 = 0.01;
/// The budget's shares: the absolute limits (error ratio, slow answers) and the comparisons
/// with the baseline (error ratio, latency).
pub const ERROR_LIMIT_SHARE: f64 = 0.1;
pub const LATENCY_LIMIT_SHARE: f64 = 0.1;
pub const ERROR_COMPARISON_SHARE: f64 = 0.4;
pub const LATENCY_COMPARISON_SHARE: f64 = 0.4;
/// The part of each rule's share spent on the rounds inside the window (together); the rest
/// is the window's end. Rounds catch what is plainly broken early; the end, with all the
/// evidence, decides the rest (an alpha-spending plan like O'Brien-Fleming's, in two steps).
pub const ROUND_SHARE: f64 = 0.2;
/// "p99 under the limit" means at most this share of answers is slower than it.
pub const SLOW_SHARE: f64 = 0.01;

/// Which look at a window a judgement is: each look spends part of the error budget, so
/// judging the same window again and again does not multiply false rollbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// A round inside the window; `rounds`: how many rounds the window has at most (an
    /// extension included).
    Round { rounds: u32 },
    /// The window's end; `finals`: how many ends it may have (2 when it may be extended).
    Final { finals: u32 },
}

impl Look {
    /// The significance level a rule with `share` of the budget tests at in this look.
    pub fn alpha(self, share: f64) -> f64 {
        let budget = FALSE_ROLLBACK_BUDGET * share;
        match self {
            Self::Round { rounds } => budget * ROUND_SHARE / f64::from(rounds.max(1)),
            Self::Final { finals } => budget * (1.0 - ROUND_SHARE) / f64::from(finals.max(1)),
        }
    }
}

/// Judges `current` against `thresholds` and, when there is one, `baseline` (the previous
/// build over a window of the same length just before the write, or the old replicas next
/// to a canary), at `look`.
///
/// - A replica whose `/metrics` could not be read fails the window: what it served is
///   unseen, and a gate that cannot see fails closed.
/// - The absolute limits fail the window when the evidence is significant, however few the
///   requests: the lower Wilson bound of the error ratio (of the share of answers slower
///   than `max_p99`) is above the limit (above 1%), overall or on any route.
/// - Fewer requests than `min_requests`: inconclusive (nothing above was clear).
/// - Enough requests but no latency observation: fails ("no latency histogram").
/// - A baseline with fewer requests than `min_requests`: inconclusive, saying so (its
///   comparisons cannot be made, and a build they would catch must not pass unseen).
/// - The comparison with the baseline fails the window when the new build is significantly
///   worse (a two-proportion z-test for errors; Mann-Whitney over the intervals' p99 for
///   latency) and by more than the configured factor.
pub fn judge(
    thresholds: &Thresholds,
    baseline: Option<&Window>,
    current: &Window,
    look: Look,
) -> Verdict {
    let now = &current.total;
    if !now.unreadable.is_empty() {
        return Verdict::Fail {
            findings: vec![Finding {
                metric: Metric::Unreadable,
                scope: now.unreadable.join("; "),
                value: now.unreadable.len() as f64,
                limit: 0.0,
                baseline: None,
            }],
        };
    }
    let mut findings = limits(thresholds, now, look);
    if !findings.is_empty() {
        return Verdict::Fail { findings };
    }
    let min = (thresholds.min_requests as f64).max(1.0);
    if now.overall.requests < min {
        return Verdict::Inconclusive {
            requests: now.overall.requests,
            min_requests: thresholds.min_requests,
            reason: None,
        };
    }
    let counted = now.overall.requests - now.synthetic.unanswered as f64;
    if counted >= min && now.overall.latency.count() <= 0.0 {
        return Verdict::Fail {
            findings: vec![Finding {
                metric: Metric::NoLatency,
                scope: "overall".to_owned(),
                value: counted,
                limit: 0.0,
                baseline: None,
            }],
        };
    }
    if let Some(baseline) = baseline {
        // Too little served by the previous build: the comparisons cannot be made, and
        // skipping them silently would pass a build they exist to catch.
        let before = baseline.total.overall.requests;
        if before < min {
            return Verdict::nothing_to_compare(
                now.overall.requests,
                thresholds.min_requests,
                format!(
                    "the previous build served {before:.0} request(s) over its window, fewer than the {} a comparison needs",
                    thresholds.min_requests
                ),
            );
        }
        findings.extend(error_comparison(thresholds, &baseline.total, now, look));
        findings.extend(latency_comparison(thresholds, baseline, current, look));
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

/// The absolute limits, overall and per route, each test at its share of this look's level
/// divided among the scopes tested (Bonferroni).
fn limits(thresholds: &Thresholds, now: &Summary, look: Look) -> Vec<Finding> {
    let scopes: Vec<(String, &Stats)> = std::iter::once(("overall".to_owned(), &now.overall))
        .chain(now.routes.iter().map(|(r, s)| (scope(r, s), s)))
        .collect();
    let tests = scopes.len() as f64;
    let error_z = critical_z(look.alpha(ERROR_LIMIT_SHARE) / tests);
    let latency_z = critical_z(look.alpha(LATENCY_LIMIT_SHARE) / tests);
    let max_p99 = thresholds.max_p99.as_secs_f64();
    let mut findings = Vec::new();
    for (scope, stats) in scopes {
        let (low, _) = wilson(stats.errors, stats.requests, error_z);
        if low > thresholds.max_error_ratio {
            findings.push(Finding {
                metric: Metric::ErrorRatio,
                scope: scope.clone(),
                value: stats.errors / stats.requests,
                limit: thresholds.max_error_ratio,
                baseline: None,
            });
        }
        let observed = stats.latency.count();
        let slow = slower_than(&stats.latency, max_p99);
        let (low, _) = wilson(slow, observed, latency_z);
        if observed > 0.0 && low > SLOW_SHARE {
            findings.push(Finding {
                metric: Metric::P99,
                scope,
                value: stats.p99.unwrap_or(max_p99),
                limit: max_p99,
                baseline: None,
            });
        }
    }
    findings
}

/// Significantly more errors than the baseline, and more than `factor` times its ratio
/// (read at a floor): both, as Kayenta's classifier asks for significance and an effect.
fn error_comparison(
    thresholds: &Thresholds,
    baseline: &Summary,
    now: &Summary,
    look: Look,
) -> Option<Finding> {
    let factor = thresholds.baseline_error_factor?;
    let (old, new) = (baseline.overall.error_ratio()?, now.overall.error_ratio()?);
    let limit = factor * old.max(BASELINE_ERROR_RATIO_FLOOR);
    let p = proportion_higher(
        now.overall.errors,
        now.overall.requests,
        baseline.overall.errors,
        baseline.overall.requests,
    );
    (new > limit && p < look.alpha(ERROR_COMPARISON_SHARE)).then(|| Finding {
        metric: Metric::ErrorRatio,
        scope: "overall".to_owned(),
        value: new,
        limit,
        baseline: Some(old),
    })
}

/// The intervals' p99 rank significantly above the baseline's (Mann-Whitney), and the
/// window's p99 is more than `factor` times the baseline's (read at a floor).
fn latency_comparison(
    thresholds: &Thresholds,
    baseline: &Window,
    current: &Window,
    look: Look,
) -> Option<Finding> {
    let factor = thresholds.baseline_p99_factor?;
    let (old, new) = (baseline.total.overall.p99?, current.total.overall.p99?);
    let limit = factor * old.max(BASELINE_P99_FLOOR.as_secs_f64());
    let p = mann_whitney_greater(&current.interval_p99s(), &baseline.interval_p99s());
    (new > limit && p < look.alpha(LATENCY_COMPARISON_SHARE)).then(|| Finding {
        metric: Metric::P99,
        scope: "overall".to_owned(),
        value: new,
        limit,
        baseline: Some(old),
    })
}

/// What the monitor does with a window's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Pass,
    /// Roll back and block the build: the figures showed it bad.
    Fail(String),
    /// Roll back without blocking: the window could not judge the build, and a gate that
    /// cannot see fails closed, but nothing showed the build bad.
    Unproven(String),
    /// Watch another window.
    Extend,
}

/// Decides on the final verdict of a window. A window that was already extended and is
/// still inconclusive is unproven: rolled back, not blocked.
pub fn decide(verdict: &Verdict, choice: Inconclusive, extended: bool) -> Decision {
    match verdict {
        Verdict::Pass => Decision::Pass,
        Verdict::Fail { .. } => Decision::Fail(format!("analysis {verdict}")),
        Verdict::Inconclusive { .. } => match choice {
            Inconclusive::Pass => Decision::Pass,
            Inconclusive::Extend if !extended => Decision::Extend,
            Inconclusive::Fail | Inconclusive::Extend => {
                Decision::Unproven(format!("analysis {verdict}"))
            }
        },
    }
}
