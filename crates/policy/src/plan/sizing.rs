//! How much evidence a watched window gets: the requests its analysis needs
//! (`policy::analysis::power::minimum_requests`: the fewest that catch a 3× worse build 9
//! times in 10) against what the window holds at its synthetic load. A window that cannot
//! reach them is refused before anything is written, naming the shortest that can; where
//! raising the load within the target's bound reaches them, the plan raises it and says so,
//! and the flow sends the plan's rate, not the configuration's. Without a load (real traffic
//! only) the plan says how many requests it relies on.

use std::fmt;
use std::time::Duration;

use super::{MonitorStep, Refusal};
use crate::analysis::power::{self, DETECT_FACTOR, POWER};
use crate::analysis::{FALSE_ROLLBACK_BUDGET, Inconclusive};
use config::{AnalysisConfig, EnvironmentConfig};
use model::{EnvName, TargetKind};

/// What an analysed window is judged by and the evidence it gets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnalysisStep {
    /// The thresholds in words (`[environments.analysis]`).
    pub thresholds: String,
    /// Requests each side of the comparison needs in the window.
    pub minimum: u64,
    /// Whether the statistics set the minimum (above the configured `min_requests`).
    pub from_power: bool,
    /// Synthetic requests per second the window gets, all sides together; `None`: real
    /// traffic only.
    pub load_rate: Option<f64>,
    /// The configured rate, when the plan raised it to reach the minimum.
    pub raised_from: Option<f64>,
    /// The most synthetic requests per second the target takes.
    pub bound: f64,
    /// How many sides share the load (2 for a canary and its old replicas).
    pub sides: u32,
    #[serde(serialize_with = "super::duration_text")]
    pub window: Duration,
}

impl Eq for AnalysisStep {}

/// The watch of `env` (`requested`: `--monitor`, else its `monitor`) on `target`, its
/// analysis sized; and whether an analysis is off for want of a window (`--monitor 0`).
pub(super) fn monitor(
    env: &EnvironmentConfig,
    requested: Option<Duration>,
    target: TargetKind,
) -> Result<(Option<MonitorStep>, bool), Refusal> {
    let duration = requested.unwrap_or(env.monitor);
    if duration.is_zero() {
        return Ok((None, env.analysis.is_some()));
    }
    let analysis = match &env.analysis {
        Some(config) => Some(size(
            &env.name,
            config,
            duration,
            target,
            1,
            "monitoring window",
        )?),
        None => None,
    };
    let step = MonitorStep {
        duration,
        interval: env.monitor_interval,
        failures: env.monitor_failures,
        analysis,
    };
    Ok((Some(step), false))
}

/// Sizes the analysis of `env`'s window of `window` on `target`, its load shared by `sides`
/// (1 for the watch, 2 for a canary). `what` names the window in a refusal.
pub(super) fn size(
    env: &EnvName,
    config: &AnalysisConfig,
    window: Duration,
    target: TargetKind,
    sides: u32,
    what: &'static str,
) -> Result<AnalysisStep, Refusal> {
    let minimum = power::minimum_requests(&config.thresholds(), finals(config));
    let bound = target.max_load_rate();
    let sides = sides.max(1);
    let seconds = window.as_secs_f64();
    // All sides' requests per second that give each side the minimum in the window.
    let needed = minimum.requests as f64 * f64::from(sides) / seconds.max(f64::MIN_POSITIVE);
    let step = |load_rate, raised_from| AnalysisStep {
        thresholds: config.to_string(),
        minimum: minimum.requests,
        from_power: minimum.from_power,
        load_rate,
        raised_from,
        bound,
        sides,
        window,
    };
    let Some(configured) = config.load_rate else {
        return Ok(step(None, None));
    };
    if configured > bound {
        return Err(Refusal::LoadAboveBound {
            env: env.to_string(),
            rate: configured,
            bound,
            target,
        });
    }
    if configured >= needed {
        return Ok(step(Some(configured), None));
    }
    // Raised to a tenth of a request per second above what is needed.
    let raised = (needed * 10.0).ceil() / 10.0;
    if raised <= bound {
        return Ok(step(Some(raised), Some(configured)));
    }
    let shortest = shortest_window(config, target, sides).unwrap_or(window);
    Err(Refusal::WindowTooShort {
        env: env.to_string(),
        what,
        window,
        minimum: minimum.requests,
        target,
        reached: (bound * seconds / f64::from(sides)).floor() as u64,
        shortest,
    })
}

/// The shortest window in which `config`'s analysis can reach its minimum on `target`, its
/// load at the target's bound shared by `sides`; `None` without a synthetic load (real
/// traffic decides).
pub fn shortest_window(
    config: &AnalysisConfig,
    target: TargetKind,
    sides: u32,
) -> Option<Duration> {
    config.load_rate?;
    let minimum = power::minimum_requests(&config.thresholds(), finals(config));
    let seconds =
        (minimum.requests as f64 * f64::from(sides.max(1)) / target.max_load_rate()).ceil();
    Some(Duration::from_secs((seconds as u64).max(1)))
}

fn finals(config: &AnalysisConfig) -> u32 {
    match config.inconclusive {
        Inconclusive::Extend => 2,
        _ => 1,
    }
}

/// The error rates in words: `false rollbacks ≤ 1%; a 3× worse error ratio caught 9 times in
/// 10 at ≥ 1996 requests per window`.
pub fn error_rates(minimum: u64) -> String {
    format!(
        "false rollbacks ≤ {}%; a {}× worse error ratio caught {} times in 10 at ≥ {minimum} requests per window",
        FALSE_ROLLBACK_BUDGET * 100.0,
        DETECT_FACTOR,
        (POWER * 10.0).round()
    )
}

/// The evidence in words, as the plan prints it under the thresholds.
impl fmt::Display for AnalysisStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window = humantime::format_duration(self.window);
        let side = if self.sides > 1 { " on each side" } else { "" };
        write!(f, "{}{side}", error_rates(self.minimum))?;
        match (self.load_rate, self.raised_from) {
            (None, _) => write!(
                f,
                "; no synthetic load: relies on real traffic, {} request(s){side} in {window} ({:.1}/s)",
                self.minimum,
                self.minimum as f64 * f64::from(self.sides) / self.window.as_secs_f64()
            ),
            (Some(rate), Some(configured)) => write!(
                f,
                "; load raised from {configured} to {rate} synthetic requests/s to reach them in {window} (the target takes at most {})",
                self.bound
            ),
            (Some(rate), None) => {
                write!(f, "; {rate} synthetic requests/s reach them in {window}")
            }
        }
    }
}
