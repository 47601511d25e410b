//! The figures in words, as the command line and the board print them.

use crate::{Figures, Percentiles};

/// Each figure in words: `(name, words)`.
pub fn lines(f: &Figures) -> Vec<(&'static str, String)> {
    let releases = if f.releases > 0 {
        format!(", {} of them releases of several apps", f.releases)
    } else {
        String::new()
    };
    let unknown = if f.lead_time_unknown > 0 {
        format!(
            "; {} build(s) of unknown source commit time",
            f.lead_time_unknown
        )
    } else {
        String::new()
    };
    vec![
        (
            "deployments",
            format!("{} ({:.2} a day){releases}", f.deployments, f.per_day),
        ),
        (
            "lead time",
            format!("{}{unknown}", percentiles(&f.lead_time, "build(s)")),
        ),
        (
            "change failure",
            match f.change_failure_rate {
                Some(rate) => format!(
                    "{} of {} deployment(s) rolled back ({})",
                    f.failures,
                    f.deployments,
                    percent(rate)
                ),
                None => "no deployments".to_owned(),
            },
        ),
        (
            "time to restore",
            format!(
                "{}; {} not restored yet",
                percentiles(&f.time_to_restore, "failure(s) restored"),
                f.unrestored
            ),
        ),
        (
            "rework",
            match f.rework_rate {
                Some(rate) => format!(
                    "{} rollback(s), {} break-glass deployment(s): {} of {} write(s)",
                    f.rollbacks,
                    f.break_glass,
                    percent(rate),
                    f.deployments + f.rollbacks
                ),
                None => "no writes".to_owned(),
            },
        ),
    ]
}

/// `p50 2h 5m, p90 1d 3h (4 builds)`, or `none (0 builds)`.
fn percentiles(p: &Percentiles, of: &str) -> String {
    match (p.p50, p.p90) {
        (Some(p50), Some(p90)) => format!(
            "p50 {}, p90 {} ({} {of})",
            duration(p50),
            duration(p90),
            p.count
        ),
        _ => format!("none ({} {of})", p.count),
    }
}

/// A ratio as a percentage with one decimal.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// Seconds in words, to the minute: `1d 3h`, `2h 5m`, `4m`, `0m`.
pub fn duration(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_to_the_minute() {
        let check = |seconds: i64, expected: &str| assert_eq!(super::duration(seconds), expected);
        check(0, "0m");
        check(59, "0m");
        check(240, "4m");
        check(2 * 3600 + 5 * 60, "2h 5m");
        check(86_400 + 3 * 3600 + 59, "1d 3h");
        check(-5, "0m");
    }
}
