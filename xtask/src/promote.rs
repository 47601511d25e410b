//! `cargo xtask promote --env ENV [--sha SHA]`: see `pipeline::flow::promote`.

use std::io::IsTerminal;
use std::time::Duration;

use pipeline::flow::promote::{self, ApprovalMode, PromoteOptions};
use pipeline::model::{GitSha, Person};

use crate::{context, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to promote into.
    #[arg(long)]
    env: String,
    /// The build to promote (default: the one the previous environment runs).
    #[arg(long)]
    sha: Option<String>,
    /// Print the plan and the values diff of each environment; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not wait for approvals: exit with code 4 when they are missing.
    #[arg(long)]
    no_wait: bool,
    /// `github`: the job's protected environment is the gate; `GITHUB_ACTOR` is recorded as
    /// the approver.
    #[arg(long, value_parser = ["wait", "github"], default_value = "wait")]
    approval: String,
    /// Pass a closed sync window; needs --reason, recorded in the commit.
    #[arg(long, requires = "reason")]
    break_glass: bool,
    /// Why (with --break-glass).
    #[arg(long)]
    reason: Option<String>,
    /// Monitor the environment this long after the change (overrides pipeline.toml).
    #[arg(long, value_parser = humantime::parse_duration)]
    monitor: Option<Duration>,
    /// Request as this person (default: the CI actor or the git identity).
    #[arg(long = "as")]
    requester: Option<String>,
}

impl Args {
    pub async fn run(self, json: bool) -> anyhow::Result<()> {
        // Every input is checked before anything is touched.
        let config = context::load_config()?;
        let env = context::environment(&config, &self.env)?.name.clone();
        let sha: Option<GitSha> = self.sha.as_deref().map(str::parse).transpose()?;
        let requester: Person = match &self.requester {
            Some(name) => name.parse()?,
            None => context::identity().parse()?,
        };
        let reason = self
            .reason
            .as_deref()
            .map(|r| context::text_arg("--reason", r))
            .transpose()?;
        let approval = match (self.approval.as_str(), self.no_wait) {
            ("github", _) => {
                let actor: Person = std::env::var("GITHUB_ACTOR")
                    .map_err(|_| {
                        crate::exit::Usage(
                            "--approval github needs GITHUB_ACTOR (set by GitHub Actions)"
                                .to_owned(),
                        )
                    })?
                    .parse()?;
                ApprovalMode::Platform {
                    actor: actor.to_string(),
                }
            }
            (_, true) => ApprovalMode::NoWait,
            _ if std::io::stdin().is_terminal() => {
                let me = context::identity();
                ApprovalMode::Prompt(std::sync::Arc::new(move |question: String| {
                    eprint!("{question}\nApprove as {me}? [y/N] ");
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer).ok()?;
                    matches!(answer.trim(), "y" | "Y" | "yes").then(|| me.clone())
                }))
            }
            _ => ApprovalMode::Wait,
        };
        let pipeline = context::pipeline_with(config).await?;
        let options = PromoteOptions {
            env,
            sha,
            dry_run: self.dry_run,
            requested_by: requester.to_string(),
            run_id: context::run_id(),
            break_glass: if self.break_glass {
                reason.map(|r| r.to_string())
            } else {
                None
            },
            approval,
            monitor: self.monitor,
        };
        let reporter = output::reporter();
        let (report, error) = promote::run(&pipeline, &options, reporter.as_ref()).await;
        output::steps_table(&report.steps);
        if json {
            output::print_json(&report)?;
        } else {
            for e in &report.environments {
                eprintln!("{}: {}", e.env, e.outcome);
                for line in &e.diff {
                    eprintln!("    {line}");
                }
            }
        }
        match error {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }
}
