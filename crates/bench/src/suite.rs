//! `cargo xtask bench suite`: what the last run of the README's test command took, read from
//! the JUnit report nextest writes for every run (`.config/nextest.toml`,
//! `target/nextest/<profile>/junit.xml`): the run's wall time next to the sum of its tests'
//! times (how much waiting the parallel run overlapped), and the slowest tests. Nothing is
//! run here: the suite takes minutes, and its figure is only worth reading beside the run's
//! own date.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Figure;

/// The suite's goal on the reference 2-core machine (docs/architecture.md, "A fast loop").
const GOAL_SECONDS: f64 = 300.0;

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The nextest profile whose last run is read.
    #[arg(long, default_value = "default")]
    profile: String,
    /// How many of the slowest tests to list.
    #[arg(long, default_value_t = 5)]
    slowest: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            profile: "default".to_owned(),
            slowest: 5,
        }
    }
}

/// The figures of the last run, from its report under `target`.
pub fn read(target: &Path, options: &Options) -> anyhow::Result<Vec<Figure>> {
    let path = report(target, &options.profile);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no report of a test run at {}: run `cargo nextest run --workspace` first",
            path.display()
        )
    })?;
    figures(&text, options.slowest).with_context(|| format!("cannot read {}", path.display()))
}

fn report(target: &Path, profile: &str) -> PathBuf {
    target.join("nextest").join(profile).join("junit.xml")
}

/// One test's outcome in the report.
#[derive(Debug, PartialEq)]
struct Case {
    name: String,
    seconds: f64,
}

/// The figures of one JUnit report as nextest writes it: `<testsuites failures errors timestamp
/// time>`, one `<testsuite name="<binary id>">` per test binary (and one per setup script,
/// `@setup-script:<name>`), one `<testcase name classname time>` per test run.
fn figures(xml: &str, slowest: usize) -> anyhow::Result<Vec<Figure>> {
    let document = roxmltree::Document::parse(xml)?;
    let run = document.root_element();
    anyhow::ensure!(
        run.has_tag_name("testsuites"),
        "expected <testsuites>, found <{}>",
        run.tag_name().name()
    );
    let attribute = |name: &str| {
        run.attribute(name)
            .ok_or_else(|| anyhow::anyhow!("<testsuites> has no {name}"))
    };
    let wall: f64 = attribute("time")?.parse().context("<testsuites time>")?;
    let failures: usize = attribute("failures")?
        .parse()
        .context("<testsuites failures>")?;
    let errors: usize = attribute("errors")?
        .parse()
        .context("<testsuites errors>")?;
    let when = run
        .attribute("timestamp")
        .unwrap_or("at an unrecorded time");
    // nextest reports each setup script as a test case of its own suite: not a test.
    let mut cases: Vec<Case> = document
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| {
            !n.attribute("classname")
                .is_some_and(|c| c.starts_with("@setup-script:"))
        })
        .map(|n| {
            let seconds = n
                .attribute("time")
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("a <testcase> without a time"))?;
            let binary = n.attribute("classname").unwrap_or("");
            let test = n.attribute("name").unwrap_or("");
            Ok(Case {
                name: format!("{binary} {test}"),
                seconds,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let tests = cases.len();
    cases.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let sum: f64 = cases.iter().map(|c| c.seconds).sum();
    let run_of = format!(
        "the run of {when}: {tests} tests, {failures} failed, {errors} errors (nextest's JUnit report)"
    );
    let mut figures = vec![
        figure(
            "suite wall time",
            wall,
            Some(format!("<= {GOAL_SECONDS:.0}")),
            run_of.clone(),
        ),
        figure(
            "sum of test times (reference)",
            sum,
            None,
            format!(
                "{run_of}; the wall time is {:.0}% of it",
                if sum > 0.0 { 100.0 * wall / sum } else { 0.0 }
            ),
        ),
    ];
    for (rank, case) in cases.iter().take(slowest).enumerate() {
        figures.push(figure(
            &format!("slowest test #{}", rank + 1),
            case.seconds,
            None,
            case.name.clone(),
        ));
    }
    Ok(figures)
}

fn figure(name: &str, seconds: f64, goal: Option<String>, method: String) -> Figure {
    Figure {
        benchmark: "suite",
        name: name.to_owned(),
        value: seconds,
        unit: "s",
        goal,
        method,
    }
}

#[cfg(test)]
mod tests;
