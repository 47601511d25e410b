//! `cargo xtask sync [--env ENV] [--watch]`: converge the target to the GitOps repository.
//! On a cluster that is: ask Argo CD to refresh and wait until it has synced the tip.

use std::time::Duration;

use flow::sync;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to sync (all when omitted).
    #[arg(long)]
    env: Option<String>,
    /// Keep converging until interrupted, repairing drift (the local target; on a cluster
    /// Argo CD's self-heal does this).
    #[arg(long)]
    watch: bool,
    /// Time between rounds with --watch.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    interval: Duration,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        // Refuse a bad --env before touching anything.
        let config = context::load_config()?;
        if let Some(name) = &self.env {
            context::environment(&config, name)?;
        }
        if self.watch && context::selected_target() != context::TargetKind::Local {
            return Err(context::errors::Usage(
                "--watch repairs the local target; on a cluster Argo CD's self-heal does that (syncPolicy.automated.selfHeal)".to_owned(),
            )
            .into());
        }
        let pipeline = context::pipeline_with(config).await?;
        let envs: Vec<_> = match &self.env {
            Some(name) => vec![context::environment(&pipeline.config, name)?],
            None => pipeline.config.environments.iter().collect(),
        };
        let reporter = output::reporter();
        if self.watch {
            eprintln!(
                "watching {} every {}; Ctrl-C stops",
                names(&envs),
                humantime::format_duration(self.interval)
            );
            let stop = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            sync::watch(&pipeline, &envs, self.interval, stop, reporter.as_ref()).await;
            return Ok(());
        }
        let mut reports = Vec::new();
        for env in envs {
            for report in sync::sync_env(&pipeline, env, None, reporter.as_ref()).await? {
                eprintln!(
                    "{} in {}: {} at GitOps {} (started {}, removed {})",
                    report.app,
                    report.env,
                    report.tag.as_deref().unwrap_or("nothing deployed"),
                    &report.revision.as_str()[..12],
                    report.convergence.started.len(),
                    report.convergence.removed.len()
                );
                reports.push(report);
            }
        }
        if json {
            output::print_json(&reports)?;
        }
        Ok(())
    }
}

fn names(envs: &[&config::EnvironmentConfig]) -> String {
    envs.iter()
        .map(|e| e.name.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
