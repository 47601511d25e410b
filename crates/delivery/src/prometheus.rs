//! The figures in the Prometheus text exposition format (version 0.0.4), so a team's Grafana
//! can graph them: <https://prometheus.io/docs/instrumenting/exposition_formats/>.

use std::fmt::Write as _;

use super::figures::{Figures, Report};

/// One metric family: its name, help, type and how to read it off the figures.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    value: fn(&Figures) -> Option<f64>,
}

const fn family(
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    value: fn(&Figures) -> Option<f64>,
) -> Family {
    Family {
        name,
        help,
        kind,
        value,
    }
}

/// Families counted over the whole history (monotonic while history only grows).
const TOTALS: &[Family] = &[
    family(
        "deployments_total",
        "Deployments (deploy and promote writes) over the whole GitOps history.",
        "counter",
        |f| Some(f.deployments as f64),
    ),
    family(
        "failures_total",
        "Deployments a rollback undid, over the whole GitOps history.",
        "counter",
        |f| Some(f.failures as f64),
    ),
    family(
        "rollbacks_total",
        "Rollback writes over the whole GitOps history.",
        "counter",
        |f| Some(f.rollbacks as f64),
    ),
    family(
        "break_glass_total",
        "Deployments past a failed gate (break-glass) over the whole GitOps history.",
        "counter",
        |f| Some(f.break_glass as f64),
    ),
];

/// Families over the recent period.
const RECENT: &[Family] = &[
    family(
        "deployments_per_day",
        "Deployment frequency over the recent period, per day.",
        "gauge",
        |f| Some(f.per_day),
    ),
    family(
        "lead_time_p50_seconds",
        "Median lead time for changes (source commit to write) over the recent period.",
        "gauge",
        |f| f.lead_time.p50.map(|s| s as f64),
    ),
    family(
        "lead_time_p90_seconds",
        "90th percentile lead time for changes over the recent period.",
        "gauge",
        |f| f.lead_time.p90.map(|s| s as f64),
    ),
    family(
        "change_failure_ratio",
        "Deployments undone by a rollback over all deployments, recent period.",
        "gauge",
        |f| f.change_failure_rate,
    ),
    family(
        "time_to_restore_p50_seconds",
        "Median time from a failing write to a good build again, recent period.",
        "gauge",
        |f| f.time_to_restore.p50.map(|s| s as f64),
    ),
    family(
        "unrestored_failures",
        "Failed deployments not restored yet, recent period.",
        "gauge",
        |f| Some(f.unrestored as f64),
    ),
    family(
        "rework_ratio",
        "Rollbacks and break-glass deployments over all writes, recent period.",
        "gauge",
        |f| f.rework_rate,
    ),
];

/// `all_time` (the whole history) and `recent` (the period the gauges speak of) as exposition
/// text. Per app: `paktech_delivery_<name>{env,app}`; per environment, a release counted once:
/// `paktech_delivery_env_<name>{env}`. A figure without a value (no deployments) is left out.
pub fn exposition(all_time: &Report, recent: &Report) -> String {
    let mut out = String::new();
    for (families, report) in [(TOTALS, all_time), (RECENT, recent)] {
        for per_env in [false, true] {
            for f in families {
                let name = if per_env {
                    format!("paktech_delivery_env_{}", f.name)
                } else {
                    format!("paktech_delivery_{}", f.name)
                };
                let help = if per_env {
                    format!(
                        "{} Per environment, a release of several apps counted once.",
                        f.help
                    )
                } else {
                    f.help.to_owned()
                };
                let _ = writeln!(out, "# HELP {name} {}", escape_help(&help));
                let _ = writeln!(out, "# TYPE {name} {}", f.kind);
                for scope in &report.scopes {
                    if scope.app.is_some() == per_env {
                        continue;
                    }
                    let Some(value) = (f.value)(&scope.figures) else {
                        continue;
                    };
                    let mut labels = format!("env=\"{}\"", escape_label(&scope.env));
                    if let Some(app) = &scope.app {
                        let _ = write!(labels, ",app=\"{}\"", escape_label(app));
                    }
                    let _ = writeln!(out, "{name}{{{labels}}} {value}");
                }
            }
        }
    }
    out
}

/// A label value: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

/// A `# HELP` text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', r"\\").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::Scope;

    #[test]
    fn labels_and_help_escape_what_the_format_requires() {
        let check = |raw: &str, expected: &str| assert_eq!(escape_label(raw), expected);
        check("prod", "prod");
        check("a\"b", "a\\\"b");
        check("a\\b", "a\\\\b");
        check("a\nb", "a\\nb");
        assert_eq!(escape_help("x\\y\nz\""), "x\\\\y\\nz\"");
    }

    #[test]
    fn each_family_has_help_and_type_then_its_samples() {
        let scope = |app: Option<&str>| Scope {
            env: "pr\"od".to_owned(),
            app: app.map(str::to_owned),
            figures: Figures {
                deployments: 3,
                ..Figures::default()
            },
            series: Vec::new(),
        };
        let report = Report {
            since: 0,
            until: 86_400,
            scopes: vec![scope(None), scope(Some("web"))],
        };
        let text = exposition(&report, &report);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == "# HELP paktech_delivery_deployments_total Deployments (deploy and promote writes) over the whole GitOps history.")
            .expect("help line");
        assert_eq!(
            lines[at + 1],
            "# TYPE paktech_delivery_deployments_total counter"
        );
        assert_eq!(
            lines[at + 2],
            "paktech_delivery_deployments_total{env=\"pr\\\"od\",app=\"web\"} 3"
        );
        assert!(text.contains("paktech_delivery_env_deployments_total{env=\"pr\\\"od\"} 3\n"));
        // No deployments: no change failure ratio to give, so no sample (but the family is declared).
        assert!(text.contains("# TYPE paktech_delivery_change_failure_ratio gauge\n"));
        assert!(!text.contains("paktech_delivery_change_failure_ratio{"));
        // Every sample line belongs to the family declared just before it.
        let mut family = "";
        for line in &lines {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                family = rest.split(' ').next().expect("name");
            } else if !line.starts_with('#') {
                assert!(
                    line.starts_with(&format!("{family}{{")),
                    "{line} after {family}"
                );
            }
        }
    }
}
