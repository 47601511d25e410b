//! How many requests a window needs for its verdict to mean something: the fewest that let
//! the error comparison catch a build [`DETECT_FACTOR`] times worse than the last, at the
//! reference error ratio, [`POWER`] of the time at the window's end. The plan refuses a
//! window that cannot reach it at its load, and prints it (`policy::plan`). The figures come
//! from the normal approximation; `cargo xtask bench analysis` checks them by simulation.

use super::judge::{BASELINE_ERROR_RATIO_FLOOR, ERROR_COMPARISON_SHARE, Look, Thresholds};
use super::stats::{critical_z, normal_cdf};

/// The worsening the minimum is sized to catch: three times the previous build's errors.
pub const DETECT_FACTOR: f64 = 3.0;
/// How often it must be caught.
pub const POWER: f64 = 0.9;
/// The previous build's error ratio the minimum is sized at: the floor the comparison reads
/// a cleaner baseline at (a baseline below it is compared as if it were at it).
pub const REFERENCE_ERROR_RATIO: f64 = BASELINE_ERROR_RATIO_FLOOR;

/// What a window needs, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Minimum {
    /// Requests the window (and the baseline's) must hold.
    pub requests: u64,
    /// Whether the statistics set it (above the configured `min_requests`).
    pub from_power: bool,
}

/// The requests a window needs: the configured `min_requests`, or more when the error
/// comparison needs more to catch a [`DETECT_FACTOR`]× worse build [`POWER`] of the time.
/// `finals`: the window's possible ends (2 when it may be extended).
pub fn minimum_requests(thresholds: &Thresholds, finals: u32) -> Minimum {
    let configured = thresholds.min_requests.max(1);
    let needed = thresholds
        .baseline_error_factor
        .and_then(|factor| requests_to_catch(factor, Look::Final { finals }));
    match needed {
        Some(n) if n > configured => Minimum {
            requests: n,
            from_power: true,
        },
        _ => Minimum {
            requests: configured,
            from_power: false,
        },
    }
}

/// The chance that the error comparison at `look` catches a build whose error ratio is
/// `DETECT_FACTOR` times [`REFERENCE_ERROR_RATIO`], with `n` requests on each side: the
/// z-test must be significant and the new ratio above `factor` times the old one.
pub fn power_at(n: f64, factor: f64, look: Look) -> f64 {
    let p0 = REFERENCE_ERROR_RATIO;
    let p1 = (p0 * DETECT_FACTOR).min(1.0);
    let z = critical_z(look.alpha(ERROR_COMPARISON_SHARE));
    let pooled = (p0 + p1) / 2.0;
    let null_se = (pooled * (1.0 - pooled) * 2.0 / n).sqrt();
    let spread = ((p1 * (1.0 - p1) + p0 * (1.0 - p0)) / n).sqrt();
    let significant = normal_cdf((p1 - p0 - z * null_se) / spread);
    let effect_spread = ((p1 * (1.0 - p1) + factor * factor * p0 * (1.0 - p0)) / n).sqrt();
    let above_factor = normal_cdf((p1 - factor * p0) / effect_spread);
    significant * above_factor
}

/// The fewest requests with [`power_at`] ≥ [`POWER`]; `None` when no number can (a factor
/// at or above [`DETECT_FACTOR`] never calls such a build worse by more than it).
fn requests_to_catch(factor: f64, look: Look) -> Option<u64> {
    if factor >= DETECT_FACTOR {
        return None;
    }
    let enough = |n: u64| power_at(n as f64, factor, look) >= POWER;
    let mut high = 64;
    while !enough(high) {
        high *= 2;
        if high > 100_000_000 {
            return None;
        }
    }
    let mut low = high / 2;
    while high - low > 1 {
        let middle = (low + high) / 2;
        if enough(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Some(high)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn thresholds(min_requests: u64, factor: Option<f64>) -> Thresholds {
        Thresholds {
            max_error_ratio: 0.05,
            max_p99: Duration::from_millis(250),
            min_requests,
            baseline_error_factor: factor,
            baseline_p99_factor: Some(3.0),
        }
    }

    #[test]
    fn the_minimum_is_what_catches_a_three_times_worse_build() {
        let two = minimum_requests(&thresholds(50, Some(2.0)), 2);
        assert!(two.from_power);
        // Just enough, and one fewer is not.
        let look = Look::Final { finals: 2 };
        assert!(power_at(two.requests as f64, 2.0, look) >= POWER);
        assert!(power_at((two.requests - 1) as f64, 2.0, look) < POWER);
        // In the thousands at a 1% baseline: a small difference of small ratios.
        assert!((1000..5000).contains(&two.requests), "{two:?}");
        // One possible end spends the whole final budget once: fewer are needed.
        assert!(minimum_requests(&thresholds(50, Some(2.0)), 1).requests < two.requests);
        // A looser factor needs more.
        assert!(minimum_requests(&thresholds(50, Some(2.5)), 2).requests > two.requests);
    }

    #[test]
    fn without_a_comparison_or_with_more_configured_the_configuration_rules() {
        let none = minimum_requests(&thresholds(50, None), 2);
        assert_eq!(
            none,
            Minimum {
                requests: 50,
                from_power: false
            }
        );
        let configured = minimum_requests(&thresholds(1_000_000, Some(2.0)), 2);
        assert_eq!(configured.requests, 1_000_000);
        assert!(!configured.from_power);
        // A factor of 3 or more can never catch a 3× build: the configuration rules.
        assert_eq!(minimum_requests(&thresholds(50, Some(3.0)), 2).requests, 50);
    }
}
