//! `cargo xtask rollback --env ENV [--to SHA] --reason TEXT`: see `pipeline::flow::rollback`.

use pipeline::flow::rollback::{self, RollbackOptions};
use pipeline::model::{GitSha, Person};

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
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        let config = context::load_config()?;
        let env = context::environment(&config, &self.env)?.name.clone();
        let to: Option<GitSha> = self.to.as_deref().map(str::parse).transpose()?;
        let reason: Person = context::text_arg("--reason", &self.reason)?;
        let requester: Person = match &self.requester {
            Some(name) => name.parse()?,
            None => context::identity().parse()?,
        };
        let if_running: Option<GitSha> = self.if_running.as_deref().map(str::parse).transpose()?;
        let pipeline = context::pipeline_with(config).await?;
        if let Some(expected) = &if_running {
            let tip = pipeline.gitops.fetch()?;
            let current = pipeline::flow::sync::values(&pipeline, &env, &tip)?;
            if current.get("image.tag") != Some(expected.as_str()) {
                eprintln!("{env} does not run {expected}: nothing to roll back");
                return Ok(());
            }
        }
        let options = RollbackOptions {
            env,
            to,
            reason: reason.to_string(),
            requested_by: requester.to_string(),
            run_id: context::run_id(),
        };
        let reporter = output::reporter();
        let report = rollback::rollback(&pipeline, &options, reporter.as_ref()).await?;
        if json {
            output::print_json(&report)?;
        } else {
            eprintln!(
                "{}: rolled back from {} to {}; {} is blocked",
                report.env, report.from_sha, report.to_sha, report.blocked
            );
        }
        Ok(())
    }
}
