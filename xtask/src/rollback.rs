//! `cargo xtask rollback --env ENV [--to SHA] --reason TEXT`: see `pipeline::flow::rollback`.

use pipeline::flow::rollback::{self, RollbackOptions, RollbackOutcome};
use pipeline::model::GitSha;

use crate::{context, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    env: String,
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
        let pipeline = context::pipeline_with(config).await?;
        let options = RollbackOptions {
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
        let reporter = output::reporter();
        let report = rollback::rollback(&pipeline, &options, reporter.as_ref()).await?;
        if json {
            output::print_json(&report)?;
            return Ok(());
        }
        match report.outcome {
            RollbackOutcome::NotRunning => eprintln!(
                "{} does not run {}: nothing to roll back",
                report.env,
                options
                    .if_running
                    .as_ref()
                    .map(GitSha::as_str)
                    .unwrap_or("it")
            ),
            RollbackOutcome::Planned => {
                println!(
                    "Plan: roll {} back from {} to {} (dry run: nothing written)",
                    report.env, report.from_sha, report.to_sha
                );
                for line in report.plan.iter().flat_map(|p| &p.diff) {
                    println!("   {line}");
                }
            }
            RollbackOutcome::RolledBack => eprintln!(
                "{}: rolled back from {} to {}; {} is blocked",
                report.env,
                report.from_sha,
                if report.to_sha.is_empty() {
                    "no build (it ran none before)"
                } else {
                    report.to_sha.as_str()
                },
                report.blocked.as_deref().unwrap_or("nothing")
            ),
        }
        Ok(())
    }
}
