//! `cargo xtask rollback --env ENV [--app APP] [--to SHA] --reason TEXT`: see
//! `flow::rollback`. Without `--app`, where several apps are configured, every app
//! the last release moved in ENV is rolled back, the apps that depend on others first.

use flow::rollback::{self, RollbackOptions, RollbackOutcome};
use model::GitSha;

use context::output;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    env: String,
    /// Roll back this app only (default: the only app, or every app of the last release).
    #[arg(long)]
    app: Option<String>,
    /// Go back to this build (default: the one before the current build's promotion).
    #[arg(long)]
    to: Option<String>,
    /// Why; recorded in the commit and on the block.
    #[arg(long)]
    reason: String,
    #[arg(long = "as")]
    requester: Option<String>,
    /// Only when the environment still runs this build; otherwise there is nothing to do
    /// (exit 0). For automation that must never roll back twice.
    #[arg(long)]
    if_running: Option<String>,
    /// Print the plan (the values diff, the build it goes back to); write nothing.
    #[arg(long)]
    dry_run: bool,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let env = context::environment(&config, &self.env)?.name.clone();
        let to: Option<GitSha> = self.to.as_deref().map(str::parse).transpose()?;
        let reason = context::text_arg("--reason", &self.reason)?;
        let requester = context::person(self.requester.as_deref())?;
        let if_running: Option<GitSha> = self.if_running.as_deref().map(str::parse).transpose()?;
        let named = match (&self.app, config.apps.len()) {
            (Some(name), _) => Some(context::one_app(&config, Some(name))?.name.clone()),
            (None, 1) => Some(config.apps[0].name.clone()),
            (None, _) => None,
        };
        if named.is_none() && to.is_some() {
            return Err(
                context::errors::Usage("--to names one app's build: add --app".to_owned()).into(),
            );
        }
        let pipeline = context::pipeline_with(config).await?;
        let apps = match named {
            Some(app) => vec![app],
            None => {
                let mut apps = rollback::last_release(&pipeline, &env).await?;
                // The apps that depend on others first: nothing is left calling a build
                // that is gone.
                apps.reverse();
                apps
            }
        };
        if apps.is_empty() {
            return Err(
                context::errors::Usage(format!("{env} has no promotion to roll back")).into(),
            );
        }
        let base = RollbackOptions {
            app: apps[0].clone(),
            env,
            to,
            reason,
            requested_by: requester,
            run_id: context::run_id(),
            if_running,
            dry_run: self.dry_run,
            analysis: None,
            verdict: None,
        };
        let mut reports = Vec::new();
        for app in apps {
            let options = RollbackOptions {
                app,
                ..base.clone()
            };
            reports.push(one(&pipeline, &options, json).await?);
        }
        if json {
            match reports.as_slice() {
                [one] => output::print_json(one)?,
                several => output::print_json(&several)?,
            }
        }
        Ok(())
    }
}

/// Rolls one app back as `options` say, and tells the person at the terminal.
async fn one(
    pipeline: &flow::Pipeline,
    options: &RollbackOptions,
    json: bool,
) -> anyhow::Result<rollback::RollbackReport> {
    let app = &options.app;
    let several = pipeline.config.apps.len() > 1;
    let reporter = output::reporter();
    let report = rollback::rollback(pipeline, options, reporter.as_ref()).await?;
    if json {
        return Ok(report);
    }
    let who = if several {
        format!("{app} in {}", report.env)
    } else {
        report.env.clone()
    };
    match report.outcome {
        RollbackOutcome::NotRunning => eprintln!(
            "{who} does not run {}: nothing to roll back",
            options
                .if_running
                .as_ref()
                .map(GitSha::as_str)
                .unwrap_or("it")
        ),
        RollbackOutcome::Planned => {
            println!(
                "Plan: roll {who} back from {} to {} (dry run: nothing written)",
                report.from_sha, report.to_sha
            );
            for line in report.plan.iter().flat_map(|p| &p.diff) {
                println!("   {line}");
            }
        }
        RollbackOutcome::RolledBack => eprintln!(
            "{who}: rolled back from {} to {}; {} is blocked",
            report.from_sha,
            if report.to_sha.is_empty() {
                "no build (it ran none before)"
            } else {
                report.to_sha.as_str()
            },
            report.blocked.as_deref().unwrap_or("nothing")
        ),
    }
    Ok(report)
}
