//! `cargo xtask metrics [--env ENV] [--app APP] [--since 30d]`: the delivery figures (DORA)
//! from the GitOps history; see `delivery` and `docs/operations.md`, "Delivery
//! metrics". The history is read through a cache in the GitOps mirror, so a later run reads
//! only the commits since.

use std::time::Duration;

use anyhow::Context as _;
use context::delivery::read;
use context::output;
use delivery::words::lines;
use delivery::{Query, Report};

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
