//! `cargo xtask metrics [--env ENV] [--app APP] [--since 30d]`: the delivery figures (DORA)
//! from the GitOps history; see `pipeline::delivery` and `docs/operations.md`, "Delivery
//! metrics". The history is read through a cache in the GitOps mirror, so a later run reads
//! only the commits since.

use std::time::Duration;

use anyhow::Context as _;
use pipeline::adapters::delivery_log::{self, Ledger, SourceTimes};
use pipeline::delivery::{self, Changes, Figures, Percentiles, Query, Report};
use pipeline::flow::Pipeline;

use crate::{context, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this environment's figures.
    #[arg(long)]
    env: Option<String>,
    /// Only this app's figures.
    #[arg(long)]
    app: Option<String>,
    /// The period: from this long ago until now (e.g. `30d`, `12h`, `1w`).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    since: Duration,
}

/// The history read and followed: what the figures of any period are counted from.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub ledger: Ledger,
    pub changes: Changes,
    /// Whether the source repository (for lead times) could be opened.
    pub sources_reachable: bool,
}

/// Reads the GitOps history (through the cache in the mirror) and follows every deployment.
pub async fn read(pipeline: &Pipeline) -> anyhow::Result<Delivery> {
    let repo = pipeline.gitops.clone();
    let default_app = pipeline
        .config
        .apps
        .first()
        .map(|a| a.name.to_string())
        .unwrap_or_default();
    let workspace = pipeline.workspace.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Delivery> {
        let tip = repo.fetch()?;
        let cache = delivery_log::cache_in(&repo);
        let ledger = delivery_log::read(&repo, &tip, &cache, &default_app)?;
        let shas = ledger
            .writes
            .iter()
            .flat_map(|w| w.builds.iter().map(|(_, sha)| sha.as_str()))
            .filter(|sha| !sha.is_empty())
            .collect::<std::collections::BTreeSet<_>>();
        let sources = SourceTimes::read(&workspace, shas);
        let changes = delivery::changes(&ledger.writes, |sha| sources.get(sha));
        Ok(Delivery {
            ledger,
            changes,
            sources_reachable: sources.reachable,
        })
    })
    .await
    .context("the history read was interrupted")?
}

impl Delivery {
    /// Where a period up to now ends: now, or just after the newest write when the clock is
    /// behind it (`PAKTECH_NOW` set in the past), so that write is never outside every period.
    pub fn until(&self, now: i64) -> i64 {
        let newest = self
            .changes
            .changes
            .iter()
            .map(|c| c.time)
            .chain(self.changes.undos.iter().map(|u| u.time))
            .max()
            .unwrap_or(now);
        now.max(newest + 1)
    }
}

/// What `--json` prints.
#[derive(Debug, serde::Serialize)]
struct Output<'a> {
    tip: String,
    /// Commits read by this run (the rest came from the cache).
    walked: usize,
    rebuilt: Option<&'a str>,
    source_repository_reachable: bool,
    #[serde(flatten)]
    report: &'a Report,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        if let Some(env) = &self.env {
            context::environment(&config, env)?;
        }
        if let Some(app) = &self.app {
            context::apps(&config, std::slice::from_ref(app))?;
        }
        let order = config
            .environments
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        let pipeline = context::pipeline_with(config).await?;
        let delivery = read(&pipeline).await?;
        let until = delivery.until(pipeline.clock.now().timestamp());
        let since = until - i64::try_from(self.since.as_secs()).context("--since is too long")?;
        let report = delivery::report(
            &delivery.changes,
            &Query {
                since,
                until,
                env: self.env,
                app: self.app,
                order,
                points: 0,
            },
        );
        if json {
            return output::print_json(&Output {
                tip: delivery.ledger.tip.to_string(),
                walked: delivery.ledger.walked,
                rebuilt: delivery.ledger.rebuilt.as_deref(),
                source_repository_reachable: delivery.sources_reachable,
                report: &report,
            });
        }
        eprintln!(
            "delivery over the last {} (GitOps tip {}, {} commit(s) read now{})",
            humantime::format_duration(self.since),
            delivery.ledger.tip.short(),
            delivery.ledger.walked,
            delivery
                .ledger
                .rebuilt
                .as_deref()
                .map(|why| format!("; the cache was read again: {why}"))
                .unwrap_or_default()
        );
        if !delivery.sources_reachable {
            eprintln!(
                "lead time unknown: the source repository at {} cannot be opened",
                pipeline.workspace.display()
            );
        }
        if report.scopes.is_empty() {
            eprintln!("no deployments in the history");
        }
        for scope in &report.scopes {
            let name = match &scope.app {
                Some(app) => format!("{} {app}", scope.env),
                None => format!("{} (every app; a release counts once)", scope.env),
            };
            println!("{name}");
            for (figure, words) in lines(&scope.figures) {
                println!("  {figure:<16} {words}");
            }
        }
        Ok(())
    }
}

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
